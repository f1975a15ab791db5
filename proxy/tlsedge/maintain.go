package tlsedge

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"time"

	"github.com/caddyserver/certmagic"
)

// maintainLoop sweeps the stored certificates now and every
// MaintenanceInterval.
func (e *Edge) maintainLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.MaintenanceInterval)
	defer t.Stop()
	for {
		e.maintain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maintain goes through every certificate in the shared storage. Those the
// catalog still allows are loaded (so this proxy serves what another one
// obtained), renewed when due (certmagic's lock and its re-check of storage
// make one proxy do it), and counted into the expiry gauge. Those it no
// longer allows (domain removed or changed, tenant suspended or deleted)
// are dropped from memory and never renewed again.
//
// certmagic renews on-demand certificates only when a handshake notices
// they are due; this sweep also keeps quiet domains valid.
func (e *Edge) maintain(ctx context.Context) {
	prefix := certmagic.StorageKeys.CertsPrefix(e.issuer.IssuerKey())
	dirs, err := e.cfg.Store.List(ctx, prefix, false)
	if err != nil {
		if ctx.Err() == nil && !isNotExist(err) {
			e.log.Warn("certificate sweep: list storage", "err", err)
		}
		e.setExpiry(time.Time{})
		return
	}
	var soonest time.Time
	for _, dir := range dirs {
		if ctx.Err() != nil {
			return
		}
		host := path.Base(dir)
		if _, err := e.decide(ctx, host); err != nil {
			if errors.Is(err, ErrNotAllowed) {
				e.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: host}})
				if err := e.cfg.Store.ForgetDomain(ctx, host); err != nil {
					e.log.Warn("certificate sweep: forget domain", "domain", host, "err", err)
				}
			}
			continue
		}
		cert, err := e.magic.CacheManagedCertificate(ctx, host)
		if err != nil {
			e.log.Warn("certificate sweep: load", "domain", host, "err", err)
			continue
		}
		if cert.NeedsRenewal(e.magic) {
			if err := e.magic.RenewCertAsync(ctx, host, false); err != nil {
				e.log.Warn("certificate sweep: renew", "domain", host, "err", err)
			} else if renewed, err := e.magic.CacheManagedCertificate(ctx, host); err == nil {
				cert = renewed
			}
		}
		if cert.Leaf != nil && (soonest.IsZero() || cert.Leaf.NotAfter.Before(soonest)) {
			soonest = cert.Leaf.NotAfter
		}
	}
	e.setExpiry(soonest)
}

// setExpiry sets the gauge to the soonest end of validity among the
// certificates in service (the operator's included).
func (e *Edge) setExpiry(soonest time.Time) {
	if e.staticLeaf != nil && (soonest.IsZero() || e.staticLeaf.NotAfter.Before(soonest)) {
		soonest = e.staticLeaf.NotAfter
	}
	if soonest.IsZero() {
		e.metrics.expiry.Set(0)
		return
	}
	e.metrics.expiry.Set(float64(soonest.Unix()))
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

package tlsedge

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/microfi/tenantgate/catalog/certstore"
)

// onEvent is certmagic's event hook. "cert_obtaining" fires under the
// order lock after certmagic found no usable certificate in storage, that
// is exactly when an ACME order is about to be placed: the rate limits
// apply there, and an error aborts the order.
func (e *Edge) onEvent(ctx context.Context, event string, data map[string]any) error {
	host, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cert_obtaining":
		n, err := e.decide(ctx, host)
		if err != nil {
			return certmagic.ErrNoRetry{Err: err} // e.g. the domain was removed while we waited for the lock
		}
		if !e.allowOrder(n.tenantID) {
			e.metrics.orders.WithLabelValues(orderRateLimited).Inc()
			e.log.Warn("certificate order refused: rate limit", "domain", host, "tenant_id", n.tenantID, "renewal", renewal)
			e.record(ctx, n, certstore.DomainStatus{Domain: host, State: certstore.StatePending, LastError: errRateLimited.Error() + "; will retry"})
			return certmagic.ErrNoRetry{Err: errRateLimited}
		}
		e.log.Info("ordering certificate", "domain", host, "tenant_id", n.tenantID, "renewal", renewal)
		if !renewal {
			e.record(ctx, n, certstore.DomainStatus{Domain: host, State: certstore.StatePending})
		}
	case "cert_obtained":
		result := orderObtained
		if renewal {
			result = orderRenewed
		}
		e.metrics.orders.WithLabelValues(result).Inc()
		st := certstore.DomainStatus{Domain: host, State: certstore.StateActive}
		if key, ok := data["certificate_path"].(string); ok {
			if notAfter, err := e.notAfter(ctx, key); err == nil {
				st.NotAfter = notAfter
			}
		}
		e.log.Info("certificate obtained", "domain", host, "renewal", renewal, "not_after", st.NotAfter)
		if n, err := e.decide(ctx, host); err == nil {
			e.record(ctx, n, st)
		}
	case "cert_failed":
		e.metrics.orders.WithLabelValues(orderFailed).Inc()
		err, _ := data["error"].(error)
		msg := "unknown error"
		if err != nil {
			msg = err.Error()
		}
		e.log.Warn("certificate order failed", "domain", host, "renewal", renewal, "err", msg)
		if n, derr := e.decide(ctx, host); derr == nil {
			e.record(ctx, n, certstore.DomainStatus{Domain: host, State: certstore.StateFailed, LastError: msg})
		}
	}
	return nil
}

// record keeps the state of a custom domain for the admin view.
func (e *Edge) record(ctx context.Context, n name, st certstore.DomainStatus) {
	if !n.custom {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.cfg.Store.SetDomain(ctx, st); err != nil {
		e.log.Warn("record certificate state", "domain", st.Domain, "err", err)
	}
}

// notAfter reads the end of validity of the stored certificate at key.
func (e *Edge) notAfter(ctx context.Context, key string) (time.Time, error) {
	b, err := e.cfg.Store.Load(ctx, key)
	if err != nil {
		return time.Time{}, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return time.Time{}, errors.New("no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse %s: %w", key, err)
	}
	return leaf.NotAfter, nil
}

package tlsedge

import (
	"context"
	"time"

	"github.com/microfi/tenantgate/catalog/certstore"
)

// DomainTLS is the certificate state of a tenant's custom domain as the
// admin panel and the tenant's dashboard show it.
type DomainTLS struct {
	State     string    `json:"state"` // none, pending, active or failed
	NotAfter  time.Time `json:"not_after,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// noACME is the pending reason when this proxy obtains no certificates.
const noACME = "this proxy does not obtain certificates (start it with --tls-listen and --acme-email)"

// DomainStates returns the certificate state of each domain ("" = none).
// A nil Edge (HTTPS off) reports every domain pending.
func (e *Edge) DomainStates(ctx context.Context, domains []string) (map[string]DomainTLS, error) {
	out := make(map[string]DomainTLS, len(domains))
	var ask []string
	for _, d := range domains {
		switch {
		case d == "":
		case e == nil || e.cfg.ACME == nil:
			out[d] = DomainTLS{State: certstore.StatePending, LastError: noACME}
		default:
			ask = append(ask, d)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	states, err := e.cfg.Store.Domains(ctx, ask...)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, d := range ask {
		st, ok := states[d]
		v := DomainTLS{State: certstore.StatePending, CheckedAt: st.Updated, LastError: st.LastError, NotAfter: st.NotAfter}
		switch {
		case !ok:
			v.LastError = ""
		case st.NotAfter.After(now) && st.State != certstore.StatePending:
			// Active, or a failed renewal while the certificate still
			// serves: active, with the renewal's error kept.
			v.State = certstore.StateActive
		case st.State == certstore.StateFailed:
			v.State = certstore.StateFailed
		}
		out[d] = v
	}
	return out, nil
}

// State is DomainStates for one domain; "" gives the state none.
func (e *Edge) State(ctx context.Context, domain string) (DomainTLS, error) {
	if domain == "" {
		return DomainTLS{State: certstore.StateNone}, nil
	}
	m, err := e.DomainStates(ctx, []string{domain})
	if err != nil {
		return DomainTLS{}, err
	}
	return m[domain], nil
}

package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// domainTLSView is a custom domain's certificate state with the DNS record
// the institution must create for it, as the admin API and the tenant's
// dashboard show them.
type domainTLSView struct {
	tlsedge.DomainTLS
	DNS *dnsRecord `json:"dns,omitempty"`
}

// dnsRecord is the record pointing a custom domain at the platform.
type dnsRecord struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Value       string `json:"value"`
	Alternative string `json:"alternative"`
}

// domainTLS is the view of domain ("" = none). A failure to read the state
// is reported in it rather than failing the whole answer.
func (s *Server) domainTLS(ctx context.Context, domain string) *domainTLSView {
	if domain == "" {
		return &domainTLSView{DomainTLS: tlsedge.DomainTLS{State: "none"}}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := s.cfg.TLS.State(ctx, domain) // a nil Edge answers "pending, no ACME"
	if err != nil {
		s.log.Warn("read certificate state", "domain", domain, "err", err)
		st = tlsedge.DomainTLS{State: "pending", LastError: "certificate state unavailable"}
	}
	edge := s.cfg.EdgeHostname
	if edge == "" {
		edge = s.cfg.RootDomain
	}
	return &domainTLSView{DomainTLS: st, DNS: &dnsRecord{
		Type: "CNAME", Name: domain, Value: edge,
		Alternative: "at a zone apex (no CNAME allowed): A and AAAA records with the addresses of " + edge,
	}}
}

// domainResponse is GET /api/domain on a tenant host.
type domainResponse struct {
	CustomDomain    string         `json:"custom_domain"`
	CustomDomainTLS *domainTLSView `json:"custom_domain_tls"`
}

// tenantDomain answers GET /api/domain: the tenant's custom domain, its
// certificate state and the DNS record to create (tenant admins).
func (s *Server) tenantDomain(r *tenantRequest) error {
	writeJSON(r.ctx, http.StatusOK, domainResponse{
		CustomDomain:    r.tenant.CustomDomain,
		CustomDomainTLS: s.domainTLS(r.c, r.tenant.CustomDomain),
	})
	return nil
}

package proxy

import (
	"context"
	"time"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// domainTLS is the view of domain ("" = none). A failure to read the state
// is reported in it rather than failing the whole answer.
func (s *Server) domainTLS(ctx context.Context, domain string) *httpapi.DomainTLSView {
	if domain == "" {
		return &httpapi.DomainTLSView{DomainTLS: tlsedge.DomainTLS{State: "none"}}
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
	return &httpapi.DomainTLSView{DomainTLS: st, DNS: &httpapi.DNSRecord{
		Type: "CNAME", Name: domain, Value: edge,
		Alternative: "at a zone apex (no CNAME allowed): A and AAAA records with the addresses of " + edge,
	}}
}

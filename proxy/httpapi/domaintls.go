package httpapi

import "github.com/microfi/tenantgate/proxy/tlsedge"

// DomainTLSView is a custom domain's certificate state with the DNS record
// the institution must create for it, as the admin API and the tenant's
// dashboard show them. The edge builds it (proxy's domaintls.go).
type DomainTLSView struct {
	tlsedge.DomainTLS
	DNS *DNSRecord `json:"dns,omitempty"`
}

// DNSRecord is the record pointing a custom domain at the platform.
type DNSRecord struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Value       string `json:"value"`
	Alternative string `json:"alternative"`
}

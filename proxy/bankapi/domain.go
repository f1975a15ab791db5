package bankapi

import (
	"net/http"

	"github.com/microfi/tenantgate/proxy/httpapi"
)

// domainResponse is GET /api/domain on a tenant host.
type domainResponse struct {
	CustomDomain    string                 `json:"custom_domain"`
	CustomDomainTLS *httpapi.DomainTLSView `json:"custom_domain_tls"`
}

// TenantDomain answers GET /api/domain: the tenant's custom domain, its
// certificate state and the DNS record to create (tenant admins).
func (s *API) TenantDomain(r *httpapi.Request) error {
	httpapi.WriteJSON(r.Ctx, http.StatusOK, domainResponse{
		CustomDomain:    r.Tenant.CustomDomain,
		CustomDomainTLS: s.domainTLS(r.C, r.Tenant.CustomDomain),
	})
	return nil
}

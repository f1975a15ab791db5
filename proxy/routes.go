package proxy

import (
	"slices"
	"strings"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/site"
	"github.com/valyala/fasthttp"
)

// Role sets for route declarations.
var (
	anyTenantRole = []string{RoleCustomer, RoleStaff, RoleAdmin, RoleService}
	staffUp       = []string{RoleStaff, RoleAdmin, RoleService}
	adminOnly     = []string{RoleAdmin}
	serviceOnly   = []string{RoleService}
	staffOrAdmin  = []string{RoleStaff, RoleAdmin}
	userRoles     = []string{RoleCustomer, RoleStaff, RoleAdmin} // tokens that stand for a person
)

// route is one tenant-host endpoint. A route with no roles is public (no
// token); otherwise the token must belong to the host's tenant and carry
// one of the roles.
type route struct {
	method string
	path   string // segments; "{name}" matches one segment
	class  string
	roles  []string
	noDB   bool // the handler does not need the tenant database acquired
	enrol  bool // open to an enrolment-only token (ScopeEnrol)
	handle func(r *httpapi.Request) error
}

// tenantRoutes is the table of every tenant-host endpoint. The handlers
// live in their own packages (bankapi, site); SQL and replication are the
// edge's own.
func (s *Server) tenantRoutes() []route {
	return []route{
		{method: "GET", path: "/", class: classStatic, noDB: true, handle: site.Dashboard},
		{method: "GET", path: "/setup", class: classStatic, noDB: true, handle: site.Dashboard},
		{method: "GET", path: "/assets/{name}", class: classStatic, noDB: true, handle: site.TenantAsset},
		{method: "GET", path: "/api/accounts", class: classTenant, roles: anyTenantRole, handle: s.bank.ListAccounts},
		// Tenant banking API (bankapi).
		{method: "POST", path: "/api/auth/login", class: classTenant, handle: s.bank.Login},
		{method: "GET", path: "/api/tenant", class: classTenant, noDB: true, handle: s.bank.TenantInfo},
		{method: "GET", path: "/api/me", class: classTenant, roles: anyTenantRole, enrol: true, handle: s.bank.Me},
		// People and their access (bankapi/people.go).
		{method: "POST", path: "/api/auth/logout", class: classTenant, roles: anyTenantRole, enrol: true, handle: s.bank.Logout},
		{method: "POST", path: "/api/auth/password", class: classTenant, roles: userRoles, handle: s.bank.ChangePassword},
		{method: "POST", path: "/api/auth/reset", class: classTenant, handle: s.bank.RedeemPasswordReset},
		{method: "POST", path: "/api/auth/2fa/enrol", class: classTenant, roles: staffOrAdmin, enrol: true, handle: s.bank.EnrolTOTP},
		{method: "POST", path: "/api/auth/2fa/confirm", class: classTenant, roles: staffOrAdmin, enrol: true, handle: s.bank.ConfirmTOTP},
		{method: "PATCH", path: "/api/users/{id}", class: classTenant, roles: adminOnly, handle: s.bank.UpdateUser},
		{method: "POST", path: "/api/users/{id}/password-reset", class: classTenant, roles: adminOnly, handle: s.bank.IssuePasswordReset},
		{method: "DELETE", path: "/api/users/{id}/2fa", class: classTenant, roles: adminOnly, handle: s.bank.DisableUserTOTP},
		{method: "PATCH", path: "/api/accounts/{id}", class: classTenant, roles: staffOrAdmin, handle: s.bank.UpdateAccount},
		{method: "GET", path: "/api/audit", class: classTenant, roles: adminOnly, handle: s.bank.ListAudit},
		{method: "GET", path: "/api/settings", class: classTenant, roles: staffOrAdmin, handle: s.bank.GetSettings},
		{method: "PATCH", path: "/api/settings", class: classTenant, roles: adminOnly, handle: s.bank.PatchSettings},
		{method: "GET", path: "/api/domain", class: classTenant, roles: adminOnly, noDB: true, handle: s.bank.TenantDomain},
		{method: "GET", path: "/api/users", class: classTenant, roles: staffUp, handle: s.bank.ListUsers},
		{method: "POST", path: "/api/users", class: classTenant, roles: adminOnly, handle: s.bank.CreateUser},
		{method: "POST", path: "/api/accounts", class: classTenant, roles: staffOrAdmin, handle: s.bank.CreateAccount},
		{method: "GET", path: "/api/accounts/{id}", class: classTenant, roles: anyTenantRole, handle: s.bank.GetAccount},
		{method: "GET", path: "/api/transactions", class: classTenant, roles: anyTenantRole, handle: s.bank.ListTransactions},
		{method: "POST", path: "/api/transactions", class: classTenant, roles: anyTenantRole, handle: s.bank.CreateTransaction},
		// libSQL over HTTP (Hrana 2 and 3, JSON and Protobuf; sql.go).
		{method: "GET", path: "/v2", class: classSQL, noDB: true, handle: s.serveSQL},
		{method: "GET", path: "/v3", class: classSQL, noDB: true, handle: s.serveSQL},
		{method: "GET", path: "/v3-protobuf", class: classSQL, noDB: true, handle: s.serveSQL},
		{method: "POST", path: "/v2/pipeline", class: classSQL, roles: serviceOnly, handle: s.serveSQL},
		{method: "POST", path: "/v3/pipeline", class: classSQL, roles: serviceOnly, handle: s.serveSQL},
		{method: "POST", path: "/v3/cursor", class: classSQL, roles: serviceOnly, handle: s.serveSQL},
		{method: "POST", path: "/v3-protobuf/pipeline", class: classSQL, roles: serviceOnly, handle: s.serveSQL},
		{method: "POST", path: "/v3-protobuf/cursor", class: classSQL, roles: serviceOnly, handle: s.serveSQL},
		{method: "OPTIONS", path: "/v2/pipeline", class: classSQL, noDB: true, handle: s.sqlPreflight},
		{method: "OPTIONS", path: "/v3/pipeline", class: classSQL, noDB: true, handle: s.sqlPreflight},
		{method: "OPTIONS", path: "/v3/cursor", class: classSQL, noDB: true, handle: s.sqlPreflight},
		{method: "OPTIONS", path: "/v3-protobuf/pipeline", class: classSQL, noDB: true, handle: s.sqlPreflight},
		{method: "OPTIONS", path: "/v3-protobuf/cursor", class: classSQL, noDB: true, handle: s.sqlPreflight},
		// Embedded replicas and offline sync: refused quickly (replication.go).
		{method: "GET", path: "/info", class: classSQL, noDB: true, handle: s.refuseReplication},
		{method: "POST", path: "/wal_log.ReplicationLog/{method}", class: classSQL, noDB: true, handle: s.refuseReplication},
		{method: "GET", path: "/export/{generation}", class: classSQL, noDB: true, handle: s.refuseReplication},
		{method: "GET", path: "/sync/{generation}/{start}/{end}", class: classSQL, noDB: true, handle: s.refuseReplication},
		{method: "POST", path: "/sync/{generation}/{start}/{end}", class: classSQL, noDB: true, handle: s.refuseReplication},
	}
}

// routeTable matches requests against routes.
type routeTable struct{ routes []route }

// match finds the route for method and path. It returns the route and the
// path parameters, or a 404 / 405 error.
func (t *routeTable) match(method, path string) (*route, map[string]string, error) {
	pathMatched := false
	for i := range t.routes {
		rt := &t.routes[i]
		params, ok := matchPath(rt.path, path)
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method == method || (method == "HEAD" && rt.method == "GET") {
			return rt, params, nil
		}
	}
	if pathMatched {
		return nil, nil, errMethod
	}
	return nil, nil, errNotFound
}

// matchPath matches path against a route pattern, returning the values of
// its "{name}" segments.
func matchPath(pattern, path string) (map[string]string, bool) {
	if pattern == path {
		return nil, true
	}
	brace := strings.IndexByte(pattern, '{')
	if brace < 0 {
		return nil, false
	}
	// Cheap refusals first (no allocation): the literal part before the
	// first parameter and the segment count must agree.
	pt, xt := strings.Trim(pattern, "/"), strings.Trim(path, "/")
	if !strings.HasPrefix(xt, strings.TrimLeft(pattern[:brace], "/")) || strings.Count(pt, "/") != strings.Count(xt, "/") {
		return nil, false
	}
	ps, xs := strings.Split(pt, "/"), strings.Split(xt, "/")
	var params map[string]string
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if xs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = xs[i]
			continue
		}
		if p != xs[i] {
			return nil, false
		}
	}
	return params, true
}

// allowedMethods lists the methods a path accepts, for the Allow header.
func (t *routeTable) allowedMethods(path string) string {
	var ms []string
	for _, rt := range t.routes {
		if _, ok := matchPath(rt.path, path); ok && !slices.Contains(ms, rt.method) {
			ms = append(ms, rt.method)
		}
	}
	return strings.Join(ms, ", ")
}

// methodString is the request method as a metric label and route key: one
// of a fixed set of constants (no per-request string), or "other".
func methodString(ctx *fasthttp.RequestCtx) string {
	switch string(ctx.Method()) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return "other"
}

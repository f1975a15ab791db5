package adminapi

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/storage"
)

const (
	adminTenantsPath    = "/api/admin/tenants"
	adminConversionPath = "/api/admin/conversion"
)

// adminConversion answers GET /api/admin/conversion: the demo-to-signup
// conversion of the demos created in the last 7 and 30 days.
func (s *API) adminConversion(ctx *fasthttp.RequestCtx) error {
	c, cancel := s.requestContext()
	defer cancel()
	windows, err := s.catalog.DemoConversion(c, s.now(), 7, 30)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, map[string]any{"windows": windows})
	return nil
}

// Serve answers an /api/admin/* request the edge has authenticated as a
// platform admin's (claims).
func (s *API) Serve(ctx *fasthttp.RequestCtx, claims *token.Claims) error {
	ctx.SetUserValue(adminClaimsKey{}, claims)
	path, method := string(ctx.Path()), string(ctx.Method())
	if path == adminConversionPath {
		if method != "GET" && method != "HEAD" {
			ctx.Response.Header.Set("Allow", "GET, HEAD")
			return httpapi.ErrMethod
		}
		return s.adminConversion(ctx)
	}
	if path == adminFleetPath {
		return s.adminFleet(ctx)
	}
	if path == adminTenantsPath {
		switch method {
		case "GET", "HEAD":
			return s.adminListTenants(ctx)
		case "POST":
			return s.adminCreateTenant(ctx)
		}
		ctx.Response.Header.Set("Allow", "GET, HEAD, POST")
		return httpapi.ErrMethod
	}
	if done, err := s.adminPeopleAPI(ctx, path, method); done {
		return err
	}
	rest, ok := strings.CutPrefix(path, adminTenantsPath+"/")
	if r, seed := strings.CutSuffix(rest, adminSeedSuffix); ok && seed {
		return s.adminSeedRoute(ctx, method, r)
	}
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return httpapi.ErrNotFound
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return httpapi.BadRequest("Invalid tenant id: must be a positive integer", map[string]string{"id": "must be a positive integer"})
	}
	switch method {
	case "GET", "HEAD":
		return s.adminGetTenant(ctx, id)
	case "PATCH":
		return s.adminPatchTenant(ctx, id)
	case "DELETE":
		return s.adminDeleteTenant(ctx, id)
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD, PATCH, DELETE")
	return httpapi.ErrMethod
}

// adminTenant is a tenant as the admin API shows it: the catalog row plus
// its public URL.
type adminTenant struct {
	catalog.Tenant
	URL             string                 `json:"url"`
	CustomDomainTLS *httpapi.DomainTLSView `json:"custom_domain_tls"` // domaintls.go
	// QuotaInForce is the storage quota that applies: the override
	// (storage_quota_bytes) or the plan's.
	QuotaInForce int64 `json:"storage_quota_effective_bytes"`
}

func (s *API) adminView(t catalog.Tenant) adminTenant {
	t.DBURL = redactDBURL(t.DBURL)
	return adminTenant{Tenant: t, URL: s.url(t.Host), CustomDomainTLS: s.domainTLS(context.Background(), t.CustomDomain),
		QuotaInForce: tenants.Quota(t)}
}

// redactDBURL hides credentials in a libSQL URL (?authToken=…, user:pass@)
// so the admin API and panel never display them.
func redactDBURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "authToken") || strings.EqualFold(k, "jwt") || strings.EqualFold(k, "token") {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// adminListTenants answers GET /api/admin/tenants?q=&status=&limit=&offset=.
func (s *API) adminListTenants(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	limit, err := queryInt(args, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	offset, err := queryInt(args, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	status := string(args.Peek("status"))
	if status != "" && status != catalog.StatusActive && status != catalog.StatusSuspended && status != catalog.StatusDemo {
		return httpapi.BadRequest("Invalid status", map[string]string{"status": "must be active, suspended or demo"})
	}
	q := strings.TrimSpace(string(args.Peek("q")))
	if len(q) > 200 {
		return httpapi.BadRequest("Invalid q", map[string]string{"q": "must be at most 200 characters"})
	}
	c, cancel := s.requestContext()
	defer cancel()
	list, total, err := s.catalog.List(c, catalog.ListOptions{Query: q, Status: status, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	out := make([]adminTenant, len(list))
	for i, t := range list {
		out[i] = s.adminView(t)
	}
	httpapi.WriteJSON(ctx, http.StatusOK, map[string]any{"tenants": out, "total": total, "limit": limit, "offset": offset})
	return nil
}

// adminCreateRequest is the body of POST /api/admin/tenants. AdminEmail and
// AdminPassword, when given, create the tenant's first administrator.
type adminCreateRequest struct {
	Host          string `json:"host"`
	Name          string `json:"name"`
	Country       string `json:"country"`
	CustomDomain  string `json:"custom_domain"`
	Plan          string `json:"subscription_plan"`
	DBURL         string `json:"db_url"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
	QuotaBytes    int64  `json:"storage_quota_bytes"`
}

// adminCreateTenant answers POST /api/admin/tenants with 201 and the tenant.
// The tenant rules are the tenant service's; this door adds two of its
// own: db_url must name a libSQL server, and admin_email and
// admin_password go together.
func (s *API) adminCreateTenant(ctx *fasthttp.RequestCtx) error {
	var req adminCreateRequest
	if err := httpapi.DecodeJSON(ctx, &req); err != nil {
		return err
	}
	create := tenants.CreateRequest{Host: req.Host, Name: req.Name, Country: req.Country,
		CustomDomain: req.CustomDomain, Plan: req.Plan, DBURL: req.DBURL, QuotaBytes: req.QuotaBytes}
	fields := map[string]string{}
	var verr *tenants.ValidationError
	if err := s.tenants.Check(&create); errors.As(err, &verr) {
		fields = verr.Fields
	}
	if req.DBURL != "" && !storage.IsRemote(req.DBURL) {
		// Over HTTP, a local path would let the panel create or probe files
		// anywhere the server can write; local tenants live in the data dir
		// (operators can still place one elsewhere with the CLI).
		fields["db_url"] = "must be a libsql://, https:// or http:// URL (local tenants live in the data dir)"
	}
	if (req.AdminEmail == "") != (req.AdminPassword == "") {
		fields["admin_email"] = "admin_email and admin_password go together"
	} else if req.AdminPassword != "" {
		if msg := bank.PasswordProblem(req.AdminPassword, bank.NormalizeEmail(req.AdminEmail)); msg != "" {
			fields["admin_password"] = msg
		}
	}
	if len(fields) > 0 {
		return &tenants.ValidationError{Fields: fields}
	}
	if req.AdminEmail != "" {
		create.Seed = func(ctx context.Context, db *sql.DB, id int64) error {
			_, err := bank.New(db, id).CreateUser(ctx, bank.NewUser{
				Email: req.AdminEmail, Name: "Administrator", Password: req.AdminPassword, Role: bank.RoleAdmin,
			})
			return err
		}
	}
	c, cancel := s.requestContext()
	defer cancel()
	t, err := s.tenants.Create(c, create)
	if err != nil {
		return err
	}
	details := map[string]string{"host": t.Host, "plan": t.Plan}
	if req.AdminEmail != "" {
		details["first_admin"] = "created"
	}
	if err := s.platformAudit(ctx, "tenant.create", t.ID, details); err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusCreated, map[string]any{"tenant": s.adminView(t)})
	return nil
}

// adminGetTenant answers GET /api/admin/tenants/{id}.
func (s *API) adminGetTenant(ctx *fasthttp.RequestCtx, id int64) error {
	c, cancel := s.requestContext()
	defer cancel()
	t, err := s.catalog.Get(c, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, map[string]any{"tenant": s.adminView(t)})
	return nil
}

// adminPatchRequest is the body of PATCH /api/admin/tenants/{id}; absent
// fields are left alone, an empty custom_domain removes it.
type adminPatchRequest struct {
	Status       *string `json:"status"`
	CustomDomain *string `json:"custom_domain"`
	Name         *string `json:"name"`
	Plan         *string `json:"subscription_plan"`
	QuotaBytes   *int64  `json:"storage_quota_bytes"` // 0: back to the plan's
}

// adminPatchTenant answers PATCH /api/admin/tenants/{id}: one atomic
// update of the given fields. The catalog invalidates its cache
// synchronously, so a suspension, resumption or new domain applies to the
// very next request.
func (s *API) adminPatchTenant(ctx *fasthttp.RequestCtx, id int64) error {
	var req adminPatchRequest
	if err := httpapi.DecodeJSON(ctx, &req); err != nil {
		return err
	}
	c, cancel := s.requestContext()
	defer cancel()
	cur, err := s.catalog.Get(c, id) // what the platform audit trail compares with
	if err != nil {
		return err
	}
	t, err := s.tenants.Update(c, id, tenants.Change{Status: req.Status, CustomDomain: req.CustomDomain, Name: req.Name, Plan: req.Plan, QuotaBytes: req.QuotaBytes})
	if err != nil {
		return err
	}
	if err := s.platformAudit(ctx, tenantAction(cur, t), id, tenantChanges(cur, t)); err != nil {
		return err
	}
	body := map[string]any{"tenant": s.adminView(t)}
	if cur.Status != catalog.StatusSuspended && t.Status == catalog.StatusSuspended {
		withAck(body, s.acknowledge(c)) // fleet.go: in force on every proxy
	}
	httpapi.WriteJSON(ctx, http.StatusOK, body)
	return nil
}

// adminDeleteTenant answers DELETE /api/admin/tenants/{id}[?backup=false]:
// removes the tenant and its database, keeping a copy of the file in the
// configured backup directory unless backup=false.
func (s *API) adminDeleteTenant(ctx *fasthttp.RequestCtx, id int64) error {
	backup := true
	if v := ctx.QueryArgs().Peek("backup"); len(v) > 0 {
		b, err := strconv.ParseBool(string(v))
		if err != nil {
			return httpapi.BadRequest("Invalid backup", map[string]string{"backup": "must be true or false"})
		}
		backup = b
	}
	dir := ""
	if backup {
		dir = s.backupDir
	}
	c, cancel := s.requestContext()
	defer cancel()
	if _, err := s.tenants.Delete(c, id, dir); err != nil {
		return err
	}
	if err := s.platformAudit(ctx, "tenant.delete", id, map[string]string{"backup": strconv.FormatBool(backup)}); err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, withAck(map[string]any{"deleted": id, "backup_dir": dir}, s.acknowledge(c)))
	return nil
}

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(args *fasthttp.Args, name string, def, lo, hi int) (int, error) {
	raw := args.Peek(name)
	if len(raw) == 0 {
		return def, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < lo || v > hi {
		return 0, httpapi.BadRequest("Invalid "+name, map[string]string{name: "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)})
	}
	return v, nil
}

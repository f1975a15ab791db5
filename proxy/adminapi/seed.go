package adminapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard/bank"
)

// adminSeedSuffix ends POST /api/admin/tenants/{id}/seed.
const adminSeedSuffix = "/seed"

func (s *API) adminSeedRoute(ctx *fasthttp.RequestCtx, method, rawID string) error {
	id, err := strconv.ParseInt(rawID, 10, 64)
	if err != nil || id <= 0 || strings.Contains(rawID, "/") {
		return httpapi.ErrNotFound
	}
	if method != "POST" {
		ctx.Response.Header.Set("Allow", "POST")
		return httpapi.ErrMethod
	}
	return s.adminSeedTenant(ctx, id)
}

// adminSeedRequest is the body of POST /api/admin/tenants/{id}/seed.
type adminSeedRequest struct {
	Users []bank.SeedUser `json:"users"`
}

// adminSeedTenant answers POST /api/admin/tenants/{id}/seed: the platform's
// bulk path for users and funded accounts (load tests, migrations), since
// managed tables are read-only over SQL. Opening balances are deposit
// postings, so the ledger invariant holds. → 201 {"users":[{id,email,accounts}]}.
func (s *API) adminSeedTenant(ctx *fasthttp.RequestCtx, id int64) error {
	var req adminSeedRequest
	if err := httpapi.DecodeJSON(ctx, &req); err != nil {
		return err
	}
	c, cancel := s.requestContext()
	defer cancel()
	t, err := s.catalog.Get(c, id)
	if err != nil {
		return err
	}
	currency, ok := bank.CurrencyFor(t.CountryCode)
	if !ok {
		return httpapi.BadRequest("Tenant country has no currency", nil)
	}
	h, err := s.shards.AcquireWith(c, t.ID, t.DBURL, tenants.Limits(t))
	if err != nil {
		return err
	}
	defer h.Release()
	users, err := bank.NewPrepared(h.DB, t.ID, h).Seed(c, currency, req.Users)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusCreated, map[string]any{"users": users})
	return nil
}

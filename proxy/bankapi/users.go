package bankapi

import (
	"net/http"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard/bank"
)

// listUsers answers GET /api/users (staff, admin, service): the tenant's
// users in id order, paged with limit and after_id.
func (s *API) ListUsers(r *httpapi.Request) error {
	limit, after, err := pageArgs(r)
	if err != nil {
		return err
	}
	users, err := r.Store().ListUsers(r.C, bank.UserQuery{Limit: limit, AfterID: after})
	if err != nil {
		return err
	}
	var last int64
	if len(users) > 0 {
		last = users[len(users)-1].ID
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"users": users, "next_cursor": nextCursor(len(users), limit, last)})
	return nil
}

// createUser answers POST /api/users (admin) {"email","name","password","role"?}
// → 201 {"user":{...}}; a taken e-mail → 409.
func (s *API) CreateUser(r *httpapi.Request) error {
	var req bank.NewUser
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	release, err := s.limits.HashTurn(r.C, r.Tenant.ID) // the password's hash
	if err != nil {
		return err
	}
	u, err := r.Store().CreateUserAs(r.C, r.Actor(), req)
	release()
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusCreated, map[string]any{"user": u})
	return nil
}

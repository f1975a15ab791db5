package proxy

import (
	"net/http"

	"github.com/microfi/tenantgate/shard/bank"
)

// listUsers answers GET /api/users (staff, admin, service): the tenant's
// users in id order, paged with limit and after_id.
func (s *Server) listUsers(r *tenantRequest) error {
	limit, after, err := r.pageArgs()
	if err != nil {
		return err
	}
	users, err := r.store().ListUsers(r.c, bank.UserQuery{Limit: limit, AfterID: after})
	if err != nil {
		return err
	}
	var last int64
	if len(users) > 0 {
		last = users[len(users)-1].ID
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"users": users, "next_cursor": nextCursor(len(users), limit, last)})
	return nil
}

// createUser answers POST /api/users (admin) {"email","name","password","role"?}
// → 201 {"user":{...}}; a taken e-mail → 409.
func (s *Server) createUser(r *tenantRequest) error {
	var req bank.NewUser
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	u, err := r.store().CreateUserAs(r.c, r.actor(), req)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusCreated, map[string]any{"user": u})
	return nil
}

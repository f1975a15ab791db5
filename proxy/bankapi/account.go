package proxy

import (
	"net/http"

	"github.com/microfi/tenantgate/shard/bank"
)

// ownerScope is the user whose rows a customer token may see or debit; 0
// (no restriction) for staff, admin and service. A customer token without
// a user id is scoped to an impossible owner, so it sees nothing.
func (r *tenantRequest) ownerScope() int64 {
	if r.claims.Role != RoleCustomer {
		return 0
	}
	if id := r.claims.User(); id > 0 {
		return id
	}
	return -1
}

// getAccount answers GET /api/accounts/{id}. Another customer's account is
// 404, exactly like one that does not exist.
func (s *Server) getAccount(r *tenantRequest) error {
	id, err := r.pathInt64("id")
	if err != nil {
		return err
	}
	a, err := r.store().GetAccount(r.c, id, r.ownerScope())
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"account": a})
	return nil
}

type createAccountRequest struct {
	UserID int64  `json:"user_id"`
	Type   string `json:"type"`
}

// errNoCurrency: the tenant's country has no currency (refused at signup,
// so only a hand-edited catalog gets here).
var errNoCurrency = &Error{Status: http.StatusUnprocessableEntity, Message: "Tenant country has no supported currency"}

// createAccount answers POST /api/accounts (staff, admin)
// {"user_id","type"} → 201 {"account":{...}} in the tenant's currency.
func (s *Server) createAccount(r *tenantRequest) error {
	var req createAccountRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	cur, ok := bank.CurrencyFor(r.tenant.CountryCode)
	if !ok {
		return errNoCurrency
	}
	a, err := r.store().CreateAccountAs(r.c, r.actor(), bank.NewAccount{UserID: req.UserID, Type: req.Type, Currency: cur})
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusCreated, map[string]any{"account": a})
	return nil
}

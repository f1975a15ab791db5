package bankapi

import (
	"net/http"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/shard/bank"
)

// ownerScope is the user whose rows a customer token may see or debit; 0
// (no restriction) for staff, admin and service. A customer token without
// a user id is scoped to an impossible owner, so it sees nothing.
func ownerScope(r *httpapi.Request) int64 {
	if r.Claims.Role != token.RoleCustomer {
		return 0
	}
	if id := r.Claims.User(); id > 0 {
		return id
	}
	return -1
}

// getAccount answers GET /api/accounts/{id}. Another customer's account is
// 404, exactly like one that does not exist.
func (s *API) GetAccount(r *httpapi.Request) error {
	id, err := r.PathInt64("id")
	if err != nil {
		return err
	}
	a, err := r.Store().GetAccount(r.C, id, ownerScope(r))
	if err != nil {
		return err
	}
	httpapi.WriteJSONAppend(r.Ctx, http.StatusOK, func(b []byte) []byte {
		return append(appendAccount(append(b, `{"account":`...), &a), '}')
	})
	return nil
}

type createAccountRequest struct {
	UserID int64  `json:"user_id"`
	Type   string `json:"type"`
}

// errNoCurrency: the tenant's country has no currency (refused at signup,
// so only a hand-edited catalog gets here).
var errNoCurrency = &httpapi.Error{Status: http.StatusUnprocessableEntity, Message: "Tenant country has no supported currency"}

// createAccount answers POST /api/accounts (staff, admin)
// {"user_id","type"} → 201 {"account":{...}} in the tenant's currency.
func (s *API) CreateAccount(r *httpapi.Request) error {
	var req createAccountRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	cur, ok := bank.CurrencyFor(r.Tenant.CountryCode)
	if !ok {
		return errNoCurrency
	}
	a, err := r.Store().CreateAccountAs(r.C, r.Actor(), bank.NewAccount{UserID: req.UserID, Type: req.Type, Currency: cur})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusCreated, map[string]any{"account": a})
	return nil
}

package bankapi

import (
	"net/http"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/shard/bank"
)

// listAccounts answers GET /api/accounts: a customer sees its own accounts,
// staff, admin and service see all of the tenant's (paged by after_id).
func (s *API) ListAccounts(r *httpapi.Request) error {
	q := bank.AccountQuery{}
	if r.Claims.Role == token.RoleCustomer {
		q.UserID = r.Claims.User()
		if q.UserID == 0 { // a customer token without a user owns nothing
			httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"accounts": []bank.Account{}, "next_cursor": ""})
			return nil
		}
	}
	limit, after, err := pageArgs(r)
	if err != nil {
		return err
	}
	q.Limit, q.AfterID = limit, after
	accounts, err := r.Store().ListAccounts(r.C, q)
	if err != nil {
		return err
	}
	var last int64
	if len(accounts) > 0 {
		last = accounts[len(accounts)-1].ID
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, accountPage{accounts, nextCursor(len(accounts), limit, last)})
	return nil
}

// accountPage is the answer of GET /api/accounts: a struct, not a map, so
// the hot path's encoding neither builds nor sorts a map.
type accountPage struct {
	Accounts   []bank.Account `json:"accounts"`
	NextCursor string         `json:"next_cursor"`
}

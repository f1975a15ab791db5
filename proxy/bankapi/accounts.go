package proxy

import (
	"net/http"

	"github.com/microfi/tenantgate/shard/bank"
)

// listAccounts answers GET /api/accounts: a customer sees its own accounts,
// staff, admin and service see all of the tenant's (paged by after_id).
func (s *Server) listAccounts(r *tenantRequest) error {
	q := bank.AccountQuery{}
	if r.claims.Role == RoleCustomer {
		q.UserID = r.claims.User()
		if q.UserID == 0 { // a customer token without a user owns nothing
			writeJSON(r.ctx, http.StatusOK, map[string]any{"accounts": []bank.Account{}, "next_cursor": ""})
			return nil
		}
	}
	limit, after, err := r.pageArgs()
	if err != nil {
		return err
	}
	q.Limit, q.AfterID = limit, after
	accounts, err := r.store().ListAccounts(r.c, q)
	if err != nil {
		return err
	}
	var last int64
	if len(accounts) > 0 {
		last = accounts[len(accounts)-1].ID
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"accounts": accounts, "next_cursor": nextCursor(len(accounts), limit, last)})
	return nil
}

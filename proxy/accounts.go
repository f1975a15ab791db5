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
			writeJSON(r.ctx, http.StatusOK, map[string]any{"accounts": []bank.Account{}})
			return nil
		}
	}
	limit, _, err := r.queryInt64("limit")
	if err != nil {
		return err
	}
	after, _, err := r.queryInt64("after_id")
	if err != nil {
		return err
	}
	q.Limit, q.AfterID = int(min(limit, bank.MaxPageSize)), after
	accounts, err := r.store().ListAccounts(r.c, q)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"accounts": accounts})
	return nil
}

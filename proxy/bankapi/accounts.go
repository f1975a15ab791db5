package bankapi

import (
	"net/http"
	"strconv"
	"sync"

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
	pooled := accountPages.Get().(*[]bank.Account)
	defer func() {
		clear((*pooled)[:cap(*pooled)]) // no rows kept alive in the pool
		accountPages.Put(pooled)
	}()
	accounts, err := r.Store().ListAccountsInto(r.C, q, (*pooled)[:0])
	if err != nil {
		return err
	}
	if cap(accounts) <= maxPooledPage {
		*pooled = accounts
	}
	var last int64
	if len(accounts) > 0 {
		last = accounts[len(accounts)-1].ID
	}
	page := accountPage{accounts, nextCursor(len(accounts), limit, last)}
	httpapi.WriteJSONAppend(r.Ctx, http.StatusOK, page.appendJSON)
	return nil
}

// accountPages are the pages ListAccounts reads into, reused; one grown
// past maxPooledPage is left to the GC.
var accountPages = sync.Pool{New: func() any { p := make([]bank.Account, 0, 16); return &p }}

const maxPooledPage = 128

// accountPage is the answer of GET /api/accounts, appended by hand
// (appendJSON) on the hot path; the tags say what it must match.
type accountPage struct {
	Accounts   []bank.Account `json:"accounts"`
	NextCursor string         `json:"next_cursor"`
}

// appendJSON appends the page as encoding/json writes accountPage.
func (p *accountPage) appendJSON(b []byte) []byte {
	b = append(b, `{"accounts":[`...)
	for i := range p.Accounts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAccount(b, &p.Accounts[i])
	}
	b = append(b, `],"next_cursor":`...)
	b = httpapi.AppendJSONString(b, p.NextCursor)
	return append(b, '}')
}

// appendAccount appends a as encoding/json writes bank.Account.
func appendAccount(b []byte, a *bank.Account) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, a.ID, 10)
	b = append(b, `,"tenant_id":`...)
	b = strconv.AppendInt(b, a.TenantID, 10)
	b = append(b, `,"user_id":`...)
	b = strconv.AppendInt(b, a.UserID, 10)
	b = append(b, `,"type":`...)
	b = httpapi.AppendJSONString(b, a.Type)
	b = append(b, `,"currency":`...)
	b = httpapi.AppendJSONString(b, a.Currency)
	b = append(b, `,"balance":`...)
	b = strconv.AppendInt(b, a.Balance, 10)
	b = append(b, `,"status":`...)
	b = httpapi.AppendJSONString(b, a.Status)
	b = append(b, `,"created_at":`...)
	b = httpapi.AppendJSONString(b, a.CreatedAt)
	return append(b, '}')
}

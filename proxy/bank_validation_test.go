package proxy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// Bad input is a 4xx JSON error with a clear message, never a 500.
func TestBankBadInput(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	staff, admin := f.tokens[proxy.RoleStaff], f.tokens[proxy.RoleAdmin]
	acc := f.aliceAcc.ID
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		field                     string // expected key in "fields", if any
	}{
		{"BadJSON", "POST", "/api/transactions", staff, `{"type":`, 400, ""},
		{"NotAnObject", "POST", "/api/transactions", staff, `[1,2]`, 400, ""},
		{"UnknownField", "POST", "/api/transactions", staff, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":1,"memo":"x"}`, acc), 400, ""},
		{"AmountString", "POST", "/api/transactions", staff, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":"10"}`, acc), 400, ""},
		{"AmountFloat", "POST", "/api/transactions", staff, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":10.5}`, acc), 400, ""},
		{"AmountZero", "POST", "/api/transactions", staff, map[string]any{"type": "deposit", "account_id": acc, "amount": 0}, 400, "amount"},
		{"AmountNegative", "POST", "/api/transactions", staff, map[string]any{"type": "deposit", "account_id": acc, "amount": -1}, 400, "amount"},
		{"AmountHuge", "POST", "/api/transactions", staff, map[string]any{"type": "deposit", "account_id": acc, "amount": int64(bank.MaxAmount) + 1}, 400, "amount"},
		{"AmountOverflow", "POST", "/api/transactions", staff, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":99999999999999999999}`, acc), 400, ""},
		{"BadType", "POST", "/api/transactions", staff, map[string]any{"type": "loan", "account_id": acc, "amount": 1}, 400, "type"},
		{"TransferNoTarget", "POST", "/api/transactions", staff, map[string]any{"type": "transfer", "account_id": acc, "amount": 1}, 400, "to_account_id"},
		{"TransferToSelf", "POST", "/api/transactions", staff, map[string]any{"type": "transfer", "account_id": acc, "to_account_id": acc, "amount": 1}, 400, "to_account_id"},
		{"TrailingData", "POST", "/api/transactions", staff, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":1} x`, acc), 400, ""},
		{"HugeBody", "POST", "/api/transactions", staff, `{"description":"` + strings.Repeat("x", 1<<20) + `"}`, 413, ""}, // refused from the headers, unread
		{"EmptyBody", "POST", "/api/transactions", staff, "", 400, ""},
		{"InsufficientFunds", "POST", "/api/transactions", staff, map[string]any{"type": "withdrawal", "account_id": acc, "amount": 100_001}, 422, ""},
		{"UnknownAccount", "POST", "/api/transactions", staff, map[string]any{"type": "deposit", "account_id": 999999, "amount": 1}, 404, ""},
		{"NonNumericID", "GET", "/api/accounts/abc", staff, nil, 400, "id"},
		{"NegativeID", "GET", "/api/accounts/-1", staff, nil, 400, "id"},
		{"HugeID", "GET", "/api/accounts/99999999999999999999", staff, nil, 400, "id"},
		{"UnknownAccountID", "GET", "/api/accounts/424242", staff, nil, 404, ""},
		{"BadLimit", "GET", "/api/transactions?limit=ten", staff, nil, 400, "limit"},
		{"BadAccountFilter", "GET", "/api/transactions?account_id=x", staff, nil, 400, "account_id"},
		{"BadCursor", "GET", "/api/transactions?cursor=%21%21", staff, nil, 400, "cursor"},
		{"BadUsersAfter", "GET", "/api/users?after_id=-3", staff, nil, 400, "after_id"},
		{"UserBadFields", "POST", "/api/users", admin, map[string]any{"email": "nope", "name": "", "password": "short", "role": "root"}, 400, "email"},
		{"UserEmailTaken", "POST", "/api/users", admin, map[string]any{"email": "ALICE@acme.example", "name": "A", "password": "long enough pw 7"}, 409, "email"},
		{"AccountUnknownUser", "POST", "/api/accounts", staff, map[string]any{"user_id": 4242, "type": "savings"}, 400, "user_id"},
		{"AccountBadType", "POST", "/api/accounts", staff, map[string]any{"user_id": f.alice.ID, "type": "checking"}, 400, "type"},
		{"AccountCurrencyNotSettable", "POST", "/api/accounts", staff, map[string]any{"user_id": f.alice.ID, "type": "savings", "currency": "USD"}, 400, ""},
		{"UnknownRoute", "GET", "/api/loans", staff, nil, 404, ""},
		{"WrongMethod", "DELETE", "/api/transactions", staff, nil, 405, ""},
		{"WrongMethodOnID", "POST", "/api/accounts/1", staff, nil, 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Do(c.method, f.host, c.path, c.token, c.body)
			if r.Status != c.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, c.status)
			}
			e := decodeError(t, r)
			if e.Error == "" {
				t.Fatalf("no error message: %s", r.Body)
			}
			if c.field != "" && e.Fields[c.field] == "" {
				t.Fatalf("no field error for %q: %s", c.field, r.Body)
			}
		})
	}
	// None of that moved money.
	if got := f.balance(t, acc); got != 100_000 {
		t.Fatalf("balance %d, want 100000", got)
	}
}

// Accounts open in the tenant's currency; listing pages with a stable
// cursor, newest first, filterable by account.
func TestBankAccountsAndTransactions(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "nairobi", "KE")
	staff := f.tokens[proxy.RoleStaff]

	r := s.Do("POST", f.host, "/api/accounts", staff, map[string]any{"user_id": f.bob.ID, "type": "current"})
	var created struct{ Account bank.Account }
	r.JSON(t, &created)
	if r.Status != 201 || created.Account.Currency != "KES" || created.Account.Balance != 0 || created.Account.UserID != f.bob.ID || created.Account.TenantID != f.tenant.ID {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var ids []int64
	for i := 0; i < 5; i++ {
		r := s.Do("POST", f.host, "/api/transactions", staff, map[string]any{"type": "transfer", "account_id": f.bobAcc.ID, "to_account_id": created.Account.ID, "amount": 100 + i, "description": fmt.Sprint("rent ", i)})
		var res bank.PostingResult
		r.JSON(t, &res)
		if r.Status != 201 || res.Balance != f.bobAcc.Balance-int64(100*(i+1)+i*(i+1)/2) {
			t.Fatalf("transfer %d: %d %s", i, r.Status, r.Body)
		}
		ids = append(ids, res.Transaction.ID)
	}
	// Paging through the new account's postings two at a time.
	var got []int64
	cursor := ""
	for {
		path := fmt.Sprintf("/api/transactions?account_id=%d&limit=2", created.Account.ID)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := s.Do("GET", f.host, path, f.tokens["bob"], nil)
		var page bank.TransactionPage
		r.JSON(t, &page)
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		for _, tx := range page.Transactions {
			got = append(got, tx.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint([]int64{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("listing %v, want newest first %v", got, ids)
	}
	// Alice (a customer) sees only her own account's postings.
	for _, tx := range f.allTransactions(t, f.tokens[proxy.RoleCustomer], "") {
		if tx.AccountID != f.aliceAcc.ID && (tx.ToAccountID == nil || *tx.ToAccountID != f.aliceAcc.ID) {
			t.Fatalf("alice sees %+v", tx)
		}
	}
	// Users: listing and creating (admin), the new user can log in.
	r = s.Do("POST", f.host, "/api/users", f.tokens[proxy.RoleAdmin], map[string]any{"email": "wanjiru@nairobi.example", "name": "Wanjiru Kamau", "password": "long enough pw 7", "role": "staff"})
	if r.Status != 201 {
		t.Fatalf("create user: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", f.host, "/api/users?limit=2", staff, nil)
	var users struct{ Users []bank.User }
	r.JSON(t, &users)
	if r.Status != 200 || len(users.Users) != 2 || strings.Contains(string(r.Body), "argon2") {
		t.Fatalf("users: %d %s", r.Status, r.Body)
	}
	r = s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "wanjiru@nairobi.example", "password": "long enough pw 7"})
	if r.Status != 200 {
		t.Fatalf("login new user: %d %s", r.Status, r.Body)
	}
}

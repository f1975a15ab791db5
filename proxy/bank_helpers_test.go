package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// bankFixture is a running proxy with one tenant holding known users and
// accounts, and tokens for every role.
type bankFixture struct {
	s        *proxytest.Server
	tenant   catalog.Tenant
	host     string
	admin    bank.User
	staff    bank.User
	alice    bank.User // customer
	bob      bank.User // customer
	aliceAcc bank.Account
	bobAcc   bank.Account
	password string
	tokens   map[string]string // by role; "alice" is alice's customer token
}

const fixturePassword = "correct horse battery 9"

// newBankFixture provisions a tenant in country cc with an admin, a
// teller, two customers with one funded account each.
func newBankFixture(t testing.TB, s *proxytest.Server, label, cc string) *bankFixture {
	t.Helper()
	ctx := context.Background()
	tn := s.CreateTenant(label, cc)
	h, err := s.Shards.Acquire(ctx, tn.ID, tn.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	st := bank.New(h.DB, tn.ID)
	cur, _ := bank.CurrencyFor(cc)
	f := &bankFixture{s: s, tenant: tn, host: proxytest.Host(label), password: fixturePassword}
	mk := func(email, role string) bank.User {
		u, err := st.CreateUser(ctx, bank.NewUser{Email: email, Name: role + " " + label, Password: fixturePassword, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.admin = mk("admin@"+label+".example", bank.RoleAdmin)
	f.staff = mk("teller@"+label+".example", bank.RoleStaff)
	f.alice = mk("alice@"+label+".example", bank.RoleCustomer)
	f.bob = mk("bob@"+label+".example", bank.RoleCustomer)
	for _, p := range []struct {
		u   bank.User
		acc *bank.Account
	}{{f.alice, &f.aliceAcc}, {f.bob, &f.bobAcc}} {
		a, err := st.CreateAccount(ctx, bank.NewAccount{UserID: p.u.ID, Type: bank.AccountSavings, Currency: cur})
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.Post(ctx, bank.Posting{Type: bank.TypeDeposit, AccountID: a.ID, Amount: 100_000}, bank.PostOptions{ActorUserID: f.staff.ID})
		if err != nil {
			t.Fatal(err)
		}
		a.Balance = r.Balance
		*p.acc = a
	}
	f.tokens = map[string]string{
		proxy.RoleAdmin:    s.Token(tn.ID, proxy.RoleAdmin, f.admin.ID),
		proxy.RoleStaff:    s.Token(tn.ID, proxy.RoleStaff, f.staff.ID),
		proxy.RoleCustomer: s.Token(tn.ID, proxy.RoleCustomer, f.alice.ID),
		proxy.RoleService:  s.Token(tn.ID, proxy.RoleService, 0),
		"bob":              s.Token(tn.ID, proxy.RoleCustomer, f.bob.ID),
	}
	return f
}

// balance reads an account's balance through the API as staff.
func (f *bankFixture) balance(t *testing.T, id int64) int64 {
	t.Helper()
	r := f.s.Do("GET", f.host, fmt.Sprintf("/api/accounts/%d", id), f.tokens[proxy.RoleStaff], nil)
	var body struct{ Account bank.Account }
	r.JSON(t, &body)
	if r.Status != 200 {
		t.Fatalf("get account %d: %d %s", id, r.Status, r.Body)
	}
	return body.Account.Balance
}

// allTransactions pages through GET /api/transactions with the cursor.
func (f *bankFixture) allTransactions(t *testing.T, token, query string) []bank.Transaction {
	t.Helper()
	var out []bank.Transaction
	cursor := ""
	for i := 0; ; i++ {
		path := "/api/transactions?limit=200" + query
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := f.s.Do("GET", f.host, path, token, nil)
		var page bank.TransactionPage
		r.JSON(t, &page)
		if r.Status != 200 {
			t.Fatalf("list transactions: %d %s", r.Status, r.Body)
		}
		out = append(out, page.Transactions...)
		if page.NextCursor == "" {
			return out
		}
		if i > 1000 {
			t.Fatal("cursor never ends")
		}
		cursor = page.NextCursor
	}
}

// rawResponse is the result of a request made off the test goroutine.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// doRaw is proxytest's Do without testing.TB, for use in goroutines.
func doRaw(s *proxytest.Server, method, host, path, token string, body any, headers ...string) (rawResponse, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return rawResponse{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return rawResponse{}, err
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// errorBody is the contract's error JSON.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

func decodeError(t *testing.T, r proxytest.Response) errorBody {
	t.Helper()
	var e errorBody
	r.JSON(t, &e)
	return e
}

// Package microfi is the MicroFi workload of the load tester: the
// tenant API and SQL scenarios, tenant provisioning (admin API or CLI,
// seeding through the API or in bulk), tenant files, tokens, and spawning a
// tenantgate to test. Currencies come from the banking package.
package microfi

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/valyala/fasthttp"
)

// DefaultMix is the default scenario mix (weights, any scale). Login is rare
// on purpose: it hashes a password, which is CPU-bound by design, and real
// sessions log in once per many requests.
const DefaultMix = "list_accounts=40,get_account=25,deposit=10,transfer=10,sql_read=14.5,login=0.5"

// NoLoginMix is DefaultMix without logins: what the scale goals measure
// (a password hash per login would measure bcrypt, not the tenant path).
const NoLoginMix = "list_accounts=40,get_account=25,deposit=10,transfer=10,sql_read=14.5"

// scenario is one MicroFi request kind, built for a tenant.
type scenario struct {
	name   string
	method string
	checks []string // check names, in the order of the bits check returns
	// build fills req for tenant t; it must not allocate on the hot path
	// beyond what fasthttp's buffers reuse.
	build func(v *loadtest.VU, t *Tenant, req *fasthttp.Request)
	check func(status int, body []byte) uint32
}

// Scenario indexes.
const (
	ScListAccounts = iota
	ScGetAccount
	ScDeposit
	ScTransfer
	ScSQLRead
	ScLogin
)

var (
	strGET         = []byte("GET")
	strPOST        = []byte("POST")
	bAccounts      = []byte(`"accounts"`)
	bBalance       = []byte(`"balance"`)
	bTransaction   = []byte(`"transaction"`)
	bToken         = []byte(`"token"`)
	bRows          = []byte(`"rows"`)
	bErrorType     = []byte(`"type":"error"`)
	pathAccounts   = []byte("/api/accounts")
	pathAccountsSl = []byte("/api/accounts/")
	pathTx         = []byte("/api/transactions")
	pathLogin      = []byte("/api/auth/login")
	pathPipeline   = []byte("/v2/pipeline")
)

// scenarios is the table of scenarios, indexed by the Sc constants.
var scenarios = []scenario{
	ScListAccounts: {
		name: "list_accounts", method: "GET",
		checks: []string{"list_accounts status is 200", "list_accounts body has accounts"},
		build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
			loadtest.SetRequest(req, strGET, t.Host, pathAccounts, t.authz)
		},
		check: func(st int, b []byte) uint32 {
			return loadtest.Bit(st == 200, 0) | loadtest.Bit(bytes.Contains(b, bAccounts), 1)
		},
	},
	ScGetAccount: {
		name: "get_account", method: "GET",
		checks: []string{"get_account status is 200", "get_account body has balance"},
		build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
			v.Buf = append(v.Buf[:0], pathAccountsSl...)
			v.Buf = strconv.AppendInt(v.Buf, t.account(v), 10)
			loadtest.SetRequest(req, strGET, t.Host, v.Buf, t.authz)
		},
		check: func(st int, b []byte) uint32 {
			return loadtest.Bit(st == 200, 0) | loadtest.Bit(bytes.Contains(b, bBalance), 1)
		},
	},
	ScDeposit: {
		name: "deposit", method: "POST",
		checks: []string{"deposit status is 201", "deposit body has balance"},
		build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
			loadtest.SetRequest(req, strPOST, t.Host, pathTx, t.authz)
			b := append(v.Buf[:0], `{"type":"deposit","account_id":`...)
			b = strconv.AppendInt(b, t.account(v), 10)
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, 1+v.Rng.Int64N(1000), 10)
			b = append(b, `,"description":"loadtest"}`...)
			v.Buf = b
			loadtest.SetJSONBody(req, b)
		},
		check: func(st int, b []byte) uint32 {
			return loadtest.Bit(st == 201, 0) | loadtest.Bit(bytes.Contains(b, bBalance), 1)
		},
	},
	ScTransfer: {
		name: "transfer", method: "POST",
		checks: []string{"transfer status is 201", "transfer body has transaction"},
		build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
			loadtest.SetRequest(req, strPOST, t.Host, pathTx, t.authz)
			from := v.Rng.IntN(len(t.Accounts))
			to := (from + 1 + v.Rng.IntN(max(len(t.Accounts)-1, 1))) % len(t.Accounts)
			b := append(v.Buf[:0], `{"type":"transfer","account_id":`...)
			b = strconv.AppendInt(b, t.Accounts[from], 10)
			b = append(b, `,"to_account_id":`...)
			b = strconv.AppendInt(b, t.Accounts[to], 10)
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, 1+v.Rng.Int64N(100), 10)
			b = append(b, '}')
			v.Buf = b
			loadtest.SetJSONBody(req, b)
		},
		check: func(st int, b []byte) uint32 {
			return loadtest.Bit(st == 201, 0) | loadtest.Bit(bytes.Contains(b, bTransaction), 1)
		},
	},
	ScSQLRead: {
		name: "sql_read", method: "POST",
		checks: []string{"sql_read status is 200", "sql_read body has rows"},
		build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
			loadtest.SetRequest(req, strPOST, t.Host, pathPipeline, t.svcAuthz)
			b := append(v.Buf[:0], `{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT id, balance, currency FROM accounts WHERE id = ?","args":[{"type":"integer","value":"`...)
			b = strconv.AppendInt(b, t.account(v), 10)
			b = append(b, `"}]}},{"type":"close"}]}`...)
			v.Buf = b
			loadtest.SetJSONBody(req, b)
		},
		check: func(st int, b []byte) uint32 {
			return loadtest.Bit(st == 200, 0) | loadtest.Bit(bytes.Contains(b, bRows) && !bytes.Contains(b, bErrorType), 1)
		},
	},
	ScLogin: {
		name: "login", method: "POST",
		checks: []string{"login status is 200", "login body has token"},
		build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
			loadtest.SetRequest(req, strPOST, t.Host, pathLogin, nil)
			// One simulated client address per tenant, as users behind a
			// load balancer: the proxy limits logins per client address.
			req.Header.Set("X-Forwarded-For", t.clientAddr())
			b := append(v.Buf[:0], `{"email":`...)
			b = strconv.AppendQuote(b, t.Email)
			b = append(b, `,"password":`...)
			b = strconv.AppendQuote(b, t.Password)
			b = append(b, '}')
			v.Buf = b
			loadtest.SetJSONBody(req, b)
		},
		check: func(st int, b []byte) uint32 {
			return loadtest.Bit(st == 200, 0) | loadtest.Bit(bytes.Contains(b, bToken), 1)
		},
	},
}

// ScenarioNames lists the scenario names in index order.
func ScenarioNames() []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.name
	}
	return out
}

// Workload binds the scenarios to tenants, for loadtest.Run.
func Workload(tenants []*Tenant) (loadtest.Workload, error) {
	w := loadtest.Workload{Targets: make([]string, len(tenants))}
	for i, t := range tenants {
		if len(t.Accounts) == 0 {
			return w, fmt.Errorf("tenant %s has no accounts", t.Sub)
		}
		t.prepare()
		w.Targets[i] = t.Sub
	}
	for _, s := range scenarios {
		build := s.build
		w.Scenarios = append(w.Scenarios, loadtest.Scenario{
			Name: s.name, Method: s.method, Checks: s.checks, Check: s.check,
			Build: func(v *loadtest.VU, ti int, req *fasthttp.Request) { build(v, tenants[ti], req) },
		})
	}
	return w, nil
}

package loadtest

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Scenario is one kind of request in the mix.
type Scenario struct {
	Name   string
	Method string
	Checks []string // check names, in the order of the bits check returns
	// build fills req for tenant t; it must not allocate on the hot path
	// beyond what fasthttp's buffers reuse.
	build func(v *VU, t *Tenant, req *fasthttp.Request)
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
	strJSON        = []byte("application/json")
	strAuthz       = []byte("Authorization")
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

// Scenarios is the table of scenarios, indexed by the Sc constants.
var Scenarios = []Scenario{
	ScListAccounts: {
		Name: "list_accounts", Method: "GET",
		Checks: []string{"list_accounts status is 200", "list_accounts body has accounts"},
		build: func(v *VU, t *Tenant, req *fasthttp.Request) {
			setReq(req, strGET, t.Host, pathAccounts, t.authz)
		},
		check: func(st int, b []byte) uint32 { return bit(st == 200, 0) | bit(bytes.Contains(b, bAccounts), 1) },
	},
	ScGetAccount: {
		Name: "get_account", Method: "GET",
		Checks: []string{"get_account status is 200", "get_account body has balance"},
		build: func(v *VU, t *Tenant, req *fasthttp.Request) {
			v.buf = append(v.buf[:0], pathAccountsSl...)
			v.buf = strconv.AppendInt(v.buf, v.account(t), 10)
			setReq(req, strGET, t.Host, v.buf, t.authz)
		},
		check: func(st int, b []byte) uint32 { return bit(st == 200, 0) | bit(bytes.Contains(b, bBalance), 1) },
	},
	ScDeposit: {
		Name: "deposit", Method: "POST",
		Checks: []string{"deposit status is 201", "deposit body has balance"},
		build: func(v *VU, t *Tenant, req *fasthttp.Request) {
			setReq(req, strPOST, t.Host, pathTx, t.authz)
			b := append(v.buf[:0], `{"type":"deposit","account_id":`...)
			b = strconv.AppendInt(b, v.account(t), 10)
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, 1+v.rng.Int64N(1000), 10)
			b = append(b, `,"description":"loadtest"}`...)
			v.buf = b
			setBody(req, b)
		},
		check: func(st int, b []byte) uint32 { return bit(st == 201, 0) | bit(bytes.Contains(b, bBalance), 1) },
	},
	ScTransfer: {
		Name: "transfer", Method: "POST",
		Checks: []string{"transfer status is 201", "transfer body has transaction"},
		build: func(v *VU, t *Tenant, req *fasthttp.Request) {
			setReq(req, strPOST, t.Host, pathTx, t.authz)
			from := v.rng.IntN(len(t.Accounts))
			to := (from + 1 + v.rng.IntN(max(len(t.Accounts)-1, 1))) % len(t.Accounts)
			b := append(v.buf[:0], `{"type":"transfer","account_id":`...)
			b = strconv.AppendInt(b, t.Accounts[from], 10)
			b = append(b, `,"to_account_id":`...)
			b = strconv.AppendInt(b, t.Accounts[to], 10)
			b = append(b, `,"amount":`...)
			b = strconv.AppendInt(b, 1+v.rng.Int64N(100), 10)
			b = append(b, '}')
			v.buf = b
			setBody(req, b)
		},
		check: func(st int, b []byte) uint32 { return bit(st == 201, 0) | bit(bytes.Contains(b, bTransaction), 1) },
	},
	ScSQLRead: {
		Name: "sql_read", Method: "POST",
		Checks: []string{"sql_read status is 200", "sql_read body has rows"},
		build: func(v *VU, t *Tenant, req *fasthttp.Request) {
			setReq(req, strPOST, t.Host, pathPipeline, t.svcAuthz)
			b := append(v.buf[:0], `{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT id, balance, currency FROM accounts WHERE id = ?","args":[{"type":"integer","value":"`...)
			b = strconv.AppendInt(b, v.account(t), 10)
			b = append(b, `"}]}},{"type":"close"}]}`...)
			v.buf = b
			setBody(req, b)
		},
		check: func(st int, b []byte) uint32 {
			return bit(st == 200, 0) | bit(bytes.Contains(b, bRows) && !bytes.Contains(b, bErrorType), 1)
		},
	},
	ScLogin: {
		Name: "login", Method: "POST",
		Checks: []string{"login status is 200", "login body has token"},
		build: func(v *VU, t *Tenant, req *fasthttp.Request) {
			setReq(req, strPOST, t.Host, pathLogin, nil)
			// One simulated client address per tenant, as users behind a
			// load balancer: the proxy limits logins per client address.
			req.Header.Set("X-Forwarded-For", t.clientAddr())
			b := append(v.buf[:0], `{"email":`...)
			b = strconv.AppendQuote(b, t.Email)
			b = append(b, `,"password":`...)
			b = strconv.AppendQuote(b, t.Password)
			b = append(b, '}')
			v.buf = b
			setBody(req, b)
		},
		check: func(st int, b []byte) uint32 { return bit(st == 200, 0) | bit(bytes.Contains(b, bToken), 1) },
	},
}

// ScenarioNames lists the scenario names in index order.
func ScenarioNames() []string {
	out := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		out[i] = s.Name
	}
	return out
}

func scenarioIndex(name string) int {
	for i, s := range Scenarios {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// checkNames lists every scenario's checks, and the index of each
// scenario's first check in that list.
func checkNames() (names []string, base []int) {
	for _, s := range Scenarios {
		base = append(base, len(names))
		names = append(names, s.Checks...)
	}
	return names, base
}

func bit(ok bool, i uint) uint32 {
	if ok {
		return 1 << i
	}
	return 0
}

// setReq resets req and sets method, Host, path and bearer token.
func setReq(req *fasthttp.Request, method []byte, host string, path []byte, authz []byte) {
	req.Reset()
	req.Header.SetMethodBytes(method)
	req.Header.SetRequestURIBytes(path)
	req.Header.SetHost(host)
	if len(authz) > 0 {
		req.Header.SetBytesKV(strAuthz, authz)
	}
}

func setBody(req *fasthttp.Request, b []byte) {
	req.Header.SetContentTypeBytes(strJSON)
	req.SetBody(b)
}

// Package loadtesttest is a small in-memory fasthttp server speaking the
// slice of tenantgate's API the load harness uses. It exists to test the
// harness itself (scheduling, thresholds, summaries) without the proxy; it
// checks tokens and Host headers like the proxy does, but keeps no database.
package loadtesttest

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// Server is the fake tenant API.
type Server struct {
	Addr       string // 127.0.0.1:PORT
	RootDomain string
	Secret     []byte

	// Delay is added to every tenant request (not to setup requests).
	Delay atomic.Int64 // nanoseconds
	// FailPath makes GET requests whose path starts with it answer 500
	// (setup requests are POSTs, so provisioning still works).
	FailPath atomic.Value // string

	Requests    atomic.Int64 // tenant API requests served
	inFlight    atomic.Int64
	MaxInFlight atomic.Int64 // highest concurrency seen

	mu      sync.Mutex
	tenants map[string]*tenant // by host label
	nextID  int64
	srv     *fasthttp.Server
	ln      net.Listener
}

type tenant struct {
	id       int64
	users    map[string]int64 // email → id
	accounts map[int64]int64  // id → balance
	nextID   int64
}

// Start listens on a free loopback port.
func Start(root string, secret []byte) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake server: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), RootDomain: root, Secret: secret, tenants: map[string]*tenant{}, ln: ln}
	s.FailPath.Store("")
	s.srv = &fasthttp.Server{Handler: s.handle, Concurrency: 100000}
	go s.srv.Serve(ln) //nolint:errcheck // ends at Close
	return s, nil
}

// URL is the base URL of the server.
func (s *Server) URL() string { return "http://" + s.Addr }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Shutdown() }

func writeJSON(c *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	c.SetStatusCode(status)
	c.SetContentType("application/json")
	c.SetBody(b)
}

func fail(c *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(c, status, map[string]string{"error": msg})
}

// claims verifies the bearer token and returns its claims.
func (s *Server) claims(c *fasthttp.RequestCtx) (jwt.MapClaims, bool) {
	h := string(c.Request.Header.Peek("Authorization"))
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		fail(c, 401, "Authentication required")
		return nil, false
	}
	cl := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, cl, func(*jwt.Token) (any, error) { return s.Secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		fail(c, 401, "Invalid token")
		return nil, false
	}
	return cl, true
}

func (s *Server) handle(c *fasthttp.RequestCtx) {
	host := strings.ToLower(string(c.Host()))
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := string(c.Path())
	if host == "admin."+s.RootDomain {
		s.admin(c, path)
		return
	}
	sub, ok := strings.CutSuffix(host, "."+s.RootDomain)
	s.mu.Lock()
	t := s.tenants[sub]
	s.mu.Unlock()
	if !ok || t == nil {
		fail(c, 404, "Tenant not found")
		return
	}
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.MaxInFlight.Load()
		if n <= m || s.MaxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if fp := s.FailPath.Load().(string); fp != "" && c.IsGet() && strings.HasPrefix(path, fp) {
		s.Requests.Add(1)
		fail(c, 500, "Internal error.")
		return
	}
	if d := s.Delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	s.tenantAPI(c, t, path)
}

func (s *Server) admin(c *fasthttp.RequestCtx, path string) {
	cl, ok := s.claims(c)
	if !ok {
		return
	}
	if cl["role"] != "platform_admin" {
		fail(c, 403, "Forbidden")
		return
	}
	if path != "/api/admin/tenants" || !c.IsPost() {
		fail(c, 404, "Not found")
		return
	}
	var in struct{ Host, Name, Country string }
	if err := json.Unmarshal(c.PostBody(), &in); err != nil || in.Host == "" {
		fail(c, 400, "Invalid request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tenants[in.Host]; dup {
		fail(c, 409, "Subdomain taken")
		return
	}
	s.nextID++
	s.tenants[in.Host] = &tenant{id: s.nextID, users: map[string]int64{}, accounts: map[int64]int64{}}
	writeJSON(c, 201, map[string]any{"tenant": map[string]any{"id": s.nextID, "host": in.Host, "name": in.Name}})
}

func (s *Server) tenantAPI(c *fasthttp.RequestCtx, t *tenant, path string) {
	if path == "/api/auth/login" && c.IsPost() {
		s.Requests.Add(1)
		var in struct{ Email, Password string }
		_ = json.Unmarshal(c.PostBody(), &in)
		s.mu.Lock()
		_, ok := t.users[in.Email]
		s.mu.Unlock()
		if !ok || in.Password == "" {
			fail(c, 401, "Invalid credentials")
			return
		}
		writeJSON(c, 200, map[string]any{"token": "t", "expires_at": "x", "user": map[string]any{"email": in.Email}})
		return
	}
	cl, ok := s.claims(c)
	if !ok {
		return
	}
	if tid, _ := cl["tenant_id"].(float64); int64(tid) != t.id {
		fail(c, 401, "Tenant mismatch")
		return
	}
	s.Requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case path == "/api/users" && c.IsPost():
		var in struct{ Email, Role string }
		_ = json.Unmarshal(c.PostBody(), &in)
		t.nextID++
		t.users[in.Email] = t.nextID
		writeJSON(c, 201, map[string]any{"user": map[string]any{"id": t.nextID, "email": in.Email, "role": in.Role}})
	case path == "/api/accounts" && c.IsPost():
		t.nextID++
		t.accounts[t.nextID] = 0
		writeJSON(c, 201, map[string]any{"account": map[string]any{"id": t.nextID, "balance": 0}})
	case path == "/api/accounts" && c.IsGet():
		var list []map[string]any
		for id, bal := range t.accounts {
			list = append(list, map[string]any{"id": id, "tenant_id": t.id, "balance": bal})
		}
		writeJSON(c, 200, map[string]any{"accounts": list})
	case strings.HasPrefix(path, "/api/accounts/") && c.IsGet():
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, "/api/accounts/"), 10, 64)
		bal, ok := t.accounts[id]
		if !ok {
			fail(c, 404, "Account not found")
			return
		}
		writeJSON(c, 200, map[string]any{"account": map[string]any{"id": id, "balance": bal}})
	case path == "/api/transactions" && c.IsPost():
		var in struct {
			Type      string
			AccountID int64 `json:"account_id"`
			ToAccount int64 `json:"to_account_id"`
			Amount    int64
		}
		_ = json.Unmarshal(c.PostBody(), &in)
		if _, ok := t.accounts[in.AccountID]; !ok || in.Amount <= 0 {
			fail(c, 400, "Invalid transaction")
			return
		}
		switch in.Type {
		case "deposit":
			t.accounts[in.AccountID] += in.Amount
		case "transfer":
			if t.accounts[in.AccountID] < in.Amount {
				fail(c, 422, "Insufficient funds")
				return
			}
			t.accounts[in.AccountID] -= in.Amount
			t.accounts[in.ToAccount] += in.Amount
		}
		writeJSON(c, 201, map[string]any{"transaction": map[string]any{"type": in.Type}, "balance": t.accounts[in.AccountID]})
	case path == "/v2/pipeline" && c.IsPost():
		if cl["role"] != "service" {
			fail(c, 403, "Forbidden")
			return
		}
		c.SetContentType("application/json")
		c.SetBodyString(`{"baton":null,"base_url":null,"results":[{"type":"ok","response":{"type":"execute","result":{"cols":[{"name":"id"}],"rows":[[{"type":"integer","value":"1"}]],"affected_row_count":0,"last_insert_rowid":null}}},{"type":"ok","response":{"type":"close"}}]}`)
	default:
		fail(c, 404, "Not found")
	}
}

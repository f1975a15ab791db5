package microfi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
)

// Seeding strategies for per-tenant users and accounts.
const (
	SeedAPI  = "api"  // POST /api/users, /api/accounts, /api/transactions
	SeedBulk = "bulk" // one POST /api/admin/tenants/{id}/seed per tenant (fast, for thousands of tenants)
	SeedAuto = "auto" // api up to 10 tenants, bulk beyond
)

// Provisioner creates tenants with users and funded accounts through a
// running proxy, and mints their tokens.
type Provisioner struct {
	BaseURL    string // the proxy, e.g. http://127.0.0.1:8080
	RootDomain string // e.g. microfi.localhost
	Secret     []byte // the proxy's JWT key
	Prefix     string // tenant host prefix; hosts are <prefix>00001…
	Country    string // tenant country (default GH)

	// CLI, when set, creates tenants with `tenantgate tenants create` if the
	// admin API is not available.
	CLIBin     string
	CLIDataDir string

	Seed            string // SeedAPI, SeedBulk or SeedAuto
	UsersPerTenant  int    // customers per tenant (default 2), besides the staff user
	AccountsPerUser int    // accounts per customer (default 2: savings, current)
	Concurrency     int    // parallel setup requests (default 8)
	TokenTTL        time.Duration
	Log             io.Writer // progress messages; nil for none

	client   *fasthttp.HostClient
	useCLI   atomic.Bool
	hashOnce sync.Once
	hash     string // a real password hash copied for bulk seeding
	hashErr  error
}

// LoginPassword is the password of every user the harness creates.
const LoginPassword = "loadtest-Passw0rd!"

// initialBalance funds each account (minor units): transfers never run dry.
const initialBalance = 1_000_000_000

func (p *Provisioner) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, format+"\n", args...)
	}
}

// Provision creates n tenants and returns them ready for a run.
func (p *Provisioner) Provision(ctx context.Context, n int) ([]*Tenant, error) {
	if p.Country == "" {
		p.Country = "GH"
	}
	// The banking package decides a country's currency; the accounts
	// every seeding path creates are in it (the tests check both paths).
	currency, ok := bank.CurrencyFor(p.Country)
	if !ok {
		return nil, fmt.Errorf("provision: country %q has no supported currency", p.Country)
	}
	if p.UsersPerTenant <= 0 {
		p.UsersPerTenant = 2
	}
	if p.AccountsPerUser <= 0 {
		p.AccountsPerUser = 2
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 8
	}
	if p.TokenTTL <= 0 {
		p.TokenTTL = 24 * time.Hour
	}
	seed := p.Seed
	if seed == "" || seed == SeedAuto {
		seed = SeedAPI
		if n > 10 {
			seed = SeedBulk
		}
	}
	c, err := loadtest.NewHostClient(p.BaseURL, p.Concurrency+2, 60*time.Second)
	if err != nil {
		return nil, err
	}
	p.client = c
	defer c.CloseIdleConnections()

	tenants := make([]*Tenant, n)
	for i := range tenants {
		sub := fmt.Sprintf("%s%05d", p.Prefix, i+1)
		tenants[i] = &Tenant{Sub: sub, Host: sub + "." + p.RootDomain, Currency: currency}
	}
	start := time.Now()
	// The first tenant is always seeded through the API: it proves the
	// routes work and, for bulk seeding, yields a real password hash.
	if err := p.setupTenant(ctx, tenants[0], SeedAPI); err != nil {
		return nil, err
	}
	if seed == SeedBulk {
		if p.rememberHash(ctx, tenants[0]); p.hashErr != nil {
			return nil, p.hashErr
		}
	}
	var done, replaced atomic.Int64
	done.Store(1)
	maxReplaced := int64(max(10, n/100))
	g, gctx := errgroup.WithContext(ctx) // the first failure stops the rest
	g.SetLimit(p.Concurrency)
	for _, t := range tenants[1:] {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := p.setupReplacing(gctx, t, seed, &replaced, maxReplaced); err != nil {
				return err
			}
			if d := done.Add(1); d%500 == 0 {
				p.logf("setup: %d/%d tenants", d, n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	p.logf("setup: %d tenants with %d users and %d accounts each (%s seeding) in %s", n, 1+p.UsersPerTenant, p.UsersPerTenant*p.AccountsPerUser, seed, time.Since(start).Round(time.Millisecond))
	return tenants, nil
}

// errUnavailable marks a setup request the server answered 503 (shed,
// or its deadline passed on an overloaded machine).
var errUnavailable = errors.New("server unavailable")

// setupReplacing sets up t; a tenant the server answered 503 for is left
// behind (its creation may or may not have happened, so it is not
// retried) and t is set up again under a new host, up to limit replacements
// over the whole provisioning.
func (p *Provisioner) setupReplacing(ctx context.Context, t *Tenant, seed string, replaced *atomic.Int64, limit int64) error {
	base := t.Sub
	for try := 1; ; try++ {
		err := p.setupTenant(ctx, t, seed)
		if err == nil || !errors.Is(err, errUnavailable) || replaced.Add(1) > limit {
			return err
		}
		p.logf("setup: left %s behind (%v); provisioning it again as %s-r%d", t.Sub, err, base, try)
		t.Sub = fmt.Sprintf("%s-r%d", base, try)
		t.Host = t.Sub + "." + p.RootDomain
		t.ID, t.UserID, t.Accounts = 0, 0, nil
	}
}

// setupTenant creates one tenant, its users and accounts, and its tokens.
func (p *Provisioner) setupTenant(ctx context.Context, t *Tenant, seed string) error {
	id, err := p.createTenant(ctx, t.Sub)
	if err != nil {
		return err
	}
	t.ID = id
	if t.AdminToken, err = MintToken(p.Secret, id, 1, "admin", p.TokenTTL); err != nil {
		return err
	}
	if t.ServiceToken, err = MintToken(p.Secret, id, 0, "service", p.TokenTTL); err != nil {
		return err
	}
	t.Email, t.Password = "teller@"+t.Sub+".example", LoginPassword
	switch seed {
	case SeedBulk:
		if p.useCLI.Load() { // no admin API: seed through the tenant API
			err = p.seedAPI(ctx, t)
			break
		}
		err = p.seedBulk(ctx, t)
	default:
		err = p.seedAPI(ctx, t)
	}
	if err != nil {
		return fmt.Errorf("seed tenant %s: %w", t.Sub, err)
	}
	if t.Token, err = MintToken(p.Secret, id, t.UserID, "staff", p.TokenTTL); err != nil {
		return err
	}
	return nil
}

// createTenant creates a tenant through the admin API, falling back to the
// CLI when the admin API answers 404 or 405 and a CLI is configured.
func (p *Provisioner) createTenant(ctx context.Context, sub string) (int64, error) {
	if !p.useCLI.Load() {
		tok, err := MintToken(p.Secret, 0, 0, "platform_admin", time.Hour)
		if err != nil {
			return 0, err
		}
		body, _ := json.Marshal(map[string]string{"host": sub, "name": "Loadtest " + sub, "country": p.Country})
		st, resp, err := p.do(ctx, "POST", "admin."+p.RootDomain, "/api/admin/tenants", tok, body)
		if err != nil {
			return 0, fmt.Errorf("create tenant %s: %w", sub, err)
		}
		switch {
		case st == 200 || st == 201:
			return findID(resp, "tenant")
		case (st == 404 || st == 405) && p.CLIBin != "":
			p.logf("setup: admin API answered %d; creating tenants with the CLI", st)
			p.useCLI.Store(true)
		case st == 503:
			return 0, fmt.Errorf("create tenant %s: admin API: %w: %d %s", sub, errUnavailable, st, trimBody(resp))
		default:
			return 0, fmt.Errorf("create tenant %s: admin API: %d %s", sub, st, trimBody(resp))
		}
	}
	cmd := exec.CommandContext(ctx, p.CLIBin, "tenants", "create", "--data-dir", p.CLIDataDir, "--host", sub, "--name", "Loadtest "+sub, "--country", p.Country)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("create tenant %s with the CLI: %w: %s", sub, err, trimBody(stderr.Bytes()))
	}
	return findID(out, "tenant")
}

// Remove deletes tenants this run provisioned (no backup: they hold only
// load-test data), through the admin API or, when tenants were created
// with the CLI, with `tenantgate tenants delete`. It returns how many were
// deleted and the first error.
func (p *Provisioner) Remove(ctx context.Context, tenants []*Tenant) (int, error) {
	if p.client == nil {
		c, err := loadtest.NewHostClient(p.BaseURL, p.Concurrency+2, 60*time.Second)
		if err != nil {
			return 0, err
		}
		p.client = c
		defer c.CloseIdleConnections()
	}
	tok, err := MintToken(p.Secret, 0, 0, "platform_admin", time.Hour)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tenants {
		if t.ID == 0 {
			continue
		}
		if p.useCLI.Load() {
			cmd := exec.CommandContext(ctx, p.CLIBin, "tenants", "delete", strconv.FormatInt(t.ID, 10), "--no-backup", "--data-dir", p.CLIDataDir)
			if out, err := cmd.CombinedOutput(); err != nil {
				return n, fmt.Errorf("delete tenant %s with the CLI: %w: %s", t.Sub, err, trimBody(out))
			}
		} else {
			st, resp, err := p.do(ctx, "DELETE", "admin."+p.RootDomain, "/api/admin/tenants/"+strconv.FormatInt(t.ID, 10)+"?backup=false", tok, nil)
			if err != nil {
				return n, fmt.Errorf("delete tenant %s: %w", t.Sub, err)
			}
			if st != 200 && st != 404 {
				return n, fmt.Errorf("delete tenant %s: admin API: %d %s", t.Sub, st, trimBody(resp))
			}
		}
		n++
	}
	return n, nil
}

// seedAPI creates the staff user, customers, accounts and deposits through
// the tenant API.
func (p *Provisioner) seedAPI(ctx context.Context, t *Tenant) error {
	uid, err := p.createUser(ctx, t, t.Email, "Teller "+t.Sub, "staff")
	if err != nil {
		return err
	}
	t.UserID = uid
	types := []string{"savings", "current"}
	for u := 0; u < p.UsersPerTenant; u++ {
		cid, err := p.createUser(ctx, t, fmt.Sprintf("customer%d@%s.example", u+1, t.Sub), fmt.Sprintf("Customer %d", u+1), "customer")
		if err != nil {
			return err
		}
		for a := 0; a < p.AccountsPerUser; a++ {
			body := fmt.Sprintf(`{"user_id":%d,"type":%q}`, cid, types[a%2])
			st, resp, err := p.do(ctx, "POST", t.Host, "/api/accounts", t.AdminToken, []byte(body))
			if err != nil {
				return fmt.Errorf("create account: %w", err)
			}
			if st != 200 && st != 201 {
				return fmt.Errorf("create account: %d %s", st, trimBody(resp))
			}
			aid, err := findID(resp, "account")
			if err != nil {
				return fmt.Errorf("create account: %w", err)
			}
			body = fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":%d,"description":"opening balance"}`, aid, initialBalance)
			st, resp, err = p.do(ctx, "POST", t.Host, "/api/transactions", t.AdminToken, []byte(body))
			if err != nil {
				return fmt.Errorf("fund account: %w", err)
			}
			if st != 200 && st != 201 {
				return fmt.Errorf("fund account %d: %d %s", aid, st, trimBody(resp))
			}
			t.Accounts = append(t.Accounts, aid)
		}
	}
	return nil
}

func (p *Provisioner) createUser(ctx context.Context, t *Tenant, email, name, role string) (int64, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "name": name, "password": t.Password, "role": role})
	st, resp, err := p.do(ctx, "POST", t.Host, "/api/users", t.AdminToken, body)
	if err != nil {
		return 0, fmt.Errorf("create user %s: %w", email, err)
	}
	if st != 200 && st != 201 {
		return 0, fmt.Errorf("create user %s: %d %s", email, st, trimBody(resp))
	}
	return findID(resp, "user")
}

// hranaStmt is one statement of a Hrana pipeline.
type hranaStmt struct {
	SQL  string
	Args []any // int64 or string
}

// pipeline runs statements over POST /v2/pipeline and returns each
// statement's rows (values as strings).
func (p *Provisioner) pipeline(ctx context.Context, t *Tenant, stmts []hranaStmt) ([][][]string, error) {
	type val struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	var reqs []any
	for _, s := range stmts {
		var args []val
		for _, a := range s.Args {
			switch v := a.(type) {
			case int64:
				args = append(args, val{"integer", strconv.FormatInt(v, 10)})
			case string:
				args = append(args, val{"text", v})
			}
		}
		reqs = append(reqs, map[string]any{"type": "execute", "stmt": map[string]any{"sql": s.SQL, "args": args}})
	}
	reqs = append(reqs, map[string]any{"type": "close"})
	body, _ := json.Marshal(map[string]any{"baton": nil, "requests": reqs})
	st, resp, err := p.do(ctx, "POST", t.Host, "/v2/pipeline", t.ServiceToken, body)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if st != 200 {
		return nil, fmt.Errorf("pipeline: %d %s", st, trimBody(resp))
	}
	var out struct {
		Results []struct {
			Type     string                    `json:"type"`
			Error    *struct{ Message string } `json:"error"`
			Response struct {
				Result struct {
					Rows [][]struct {
						Value any `json:"value"`
					} `json:"rows"`
				} `json:"result"`
			} `json:"response"`
		} `json:"results"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, fmt.Errorf("pipeline: decode: %w", err)
	}
	var rows [][][]string
	for i, r := range out.Results {
		if i >= len(stmts) {
			break
		}
		if r.Type != "ok" {
			msg := "error"
			if r.Error != nil {
				msg = r.Error.Message
			}
			return nil, fmt.Errorf("pipeline statement %d (%s): %s", i, stmts[i].SQL, msg)
		}
		var rs [][]string
		for _, row := range r.Response.Result.Rows {
			var vals []string
			for _, v := range row {
				vals = append(vals, fmt.Sprint(v.Value))
			}
			rs = append(rs, vals)
		}
		rows = append(rows, rs)
	}
	if len(rows) < len(stmts) {
		return nil, errors.New("pipeline: fewer results than statements")
	}
	return rows, nil
}

// seedBulk creates the users and funded accounts with one call to the
// admin API's bulk seeding path (managed tables are read-only over SQL).
// The password hash is copied from a user created through the API, so
// login works without paying for one hash per tenant; opening balances are
// deposit postings, so the ledger holds.
func (p *Provisioner) seedBulk(ctx context.Context, t *Tenant) error {
	if p.hash == "" {
		return errors.New("no password hash to copy from an API-seeded tenant")
	}
	type account struct {
		Type           string `json:"type"`
		OpeningBalance int64  `json:"opening_balance"`
	}
	type user struct {
		Email        string    `json:"email"`
		Name         string    `json:"name"`
		Role         string    `json:"role"`
		PasswordHash string    `json:"password_hash"`
		Accounts     []account `json:"accounts"`
	}
	users := []user{{Email: t.Email, Name: "Teller " + t.Sub, Role: "staff", PasswordHash: p.hash}}
	types := []string{"savings", "current"}
	for u := 0; u < p.UsersPerTenant; u++ {
		cu := user{Email: fmt.Sprintf("customer%d@%s.example", u+1, t.Sub), Name: fmt.Sprintf("Customer %d", u+1), Role: "customer", PasswordHash: p.hash}
		for a := 0; a < p.AccountsPerUser; a++ {
			cu.Accounts = append(cu.Accounts, account{Type: types[a%2], OpeningBalance: initialBalance})
		}
		users = append(users, cu)
	}
	body, _ := json.Marshal(map[string]any{"users": users})
	tok, err := MintToken(p.Secret, 0, 0, "platform_admin", time.Hour)
	if err != nil {
		return err
	}
	st, resp, err := p.do(ctx, "POST", "admin."+p.RootDomain, fmt.Sprintf("/api/admin/tenants/%d/seed", t.ID), tok, body)
	if err != nil {
		return fmt.Errorf("bulk seed: %w", err)
	}
	if st == 503 {
		return fmt.Errorf("bulk seed: %w: %d %s", errUnavailable, st, trimBody(resp))
	}
	if st != 201 {
		return fmt.Errorf("bulk seed: %d %s", st, trimBody(resp))
	}
	var out struct {
		Users []struct {
			ID       int64   `json:"id"`
			Accounts []int64 `json:"accounts"`
		} `json:"users"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || len(out.Users) != len(users) {
		return fmt.Errorf("bulk seed: unexpected answer %s", trimBody(resp))
	}
	t.UserID = out.Users[0].ID
	for _, u := range out.Users[1:] {
		t.Accounts = append(t.Accounts, u.Accounts...)
	}
	return nil
}

// rememberHash reads the staff user's password hash from an API-seeded
// tenant (managed tables are readable over SQL), for bulk seeding of the
// others.
func (p *Provisioner) rememberHash(ctx context.Context, t *Tenant) {
	p.hashOnce.Do(func() {
		rows, err := p.pipeline(ctx, t, []hranaStmt{{SQL: "SELECT password_hash FROM users WHERE tenant_id = ? AND email = ?", Args: []any{t.ID, t.Email}}})
		if err != nil {
			p.hashErr = fmt.Errorf("read a password hash for bulk seeding: %w", err)
			return
		}
		if len(rows[0]) != 1 {
			p.hashErr = errors.New("read a password hash for bulk seeding: user not found")
			return
		}
		p.hash = rows[0][0][0]
	})
}

// do sends one setup request and returns the status and a copy of the body.
func (p *Provisioner) do(ctx context.Context, method, host, path, token string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.Header.SetRequestURI(path)
	req.Header.SetHost(host)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	deadline := time.Now().Add(60 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := p.client.DoDeadline(req, resp, deadline); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// findID reads "id" from a JSON object, at the top level or inside the
// object under nest (e.g. {"tenant":{"id":3}}).
func findID(body []byte, nest string) (int64, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, fmt.Errorf("decode %s: %w (body %s)", nest, err, trimBody(body))
	}
	if raw, ok := m["id"]; ok {
		var id int64
		if err := json.Unmarshal(raw, &id); err == nil && id > 0 {
			return id, nil
		}
	}
	if raw, ok := m[nest]; ok {
		return findID(raw, nest)
	}
	return 0, fmt.Errorf("no %s id in %s", nest, trimBody(body))
}

func trimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

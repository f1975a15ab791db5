package proxy

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/web"
	"github.com/microfi/tenantgate/shard/bank"
)

// Public-site defaults.
const (
	DefaultDemoTTL     = 24 * time.Hour
	DefaultDemoCountry = "GH"
)

// site is the state of the public site and the admin panel: the per-address
// limiters of the tenant-creating endpoints and the demo lifetime.
type site struct {
	demoLimit   *ipLimiter
	signupLimit *ipLimiter
	demoTTL     time.Duration
	now         func() time.Time
}

// newSite builds the public site's state from the server's config.
func newSite(cfg Config) *site {
	demo, signup, ttl := cfg.DemoLimit, cfg.SignupLimit, cfg.DemoTTL
	if demo == (RateLimit{}) {
		demo = DefaultDemoLimit
	}
	if signup == (RateLimit{}) {
		signup = DefaultSignupLimit
	}
	if ttl <= 0 {
		ttl = DefaultDemoTTL
	}
	return &site{demoLimit: newIPLimiter(demo), signupLimit: newIPLimiter(signup), demoTTL: ttl, now: time.Now}
}

// reaper is the demo reaper, counting passes and removed demos in the
// metrics (nil when ReapInterval is off); Start runs it until Shutdown.
func (s *Server) reaper() *tenants.Reaper {
	if s.cfg.ReapInterval < 0 {
		return nil
	}
	return &tenants.Reaper{
		Service:  s.tenants,
		Interval: s.cfg.ReapInterval,
		Logger:   s.log,
		OnPass: func(n int, _ error) {
			s.metrics.reaperRuns.Inc()
			s.metrics.demosReaped.Add(float64(n))
		},
	}
}

// handlePublic serves the root domain and www: the marketing site, its
// assets and /api/public/*.
func (s *Server) handlePublic(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch path {
	case "/", "/index.html":
		s.servePage(ctx, web.Public)
	case "/api/public/demo":
		s.onlyMethod(ctx, "POST", s.createDemo)
	case "/api/public/signup":
		s.onlyMethod(ctx, "POST", s.signup)
	case "/api/public/countries":
		s.onlyMethod(ctx, "GET", s.listCountries)
	default:
		if isGetOrHead(ctx) && web.ServeAsset(ctx) {
			return
		}
		s.writeError(ctx, errNotFound)
	}
}

// servePage serves an embedded page to GET and HEAD.
func (s *Server) servePage(ctx *fasthttp.RequestCtx, f *web.File) {
	if !isGetOrHead(ctx) {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		s.writeError(ctx, errMethod)
		return
	}
	web.Serve(ctx, f)
}

// onlyMethod runs h for method (GET also answers HEAD) and 405s otherwise.
func (s *Server) onlyMethod(ctx *fasthttp.RequestCtx, method string, h func(*fasthttp.RequestCtx) error) {
	m := string(ctx.Method())
	if m != method && !(method == "GET" && m == "HEAD") {
		allow := method
		if method == "GET" {
			allow = "GET, HEAD"
		}
		ctx.Response.Header.Set("Allow", allow)
		s.writeError(ctx, errMethod)
		return
	}
	if err := h(ctx); err != nil {
		s.writeError(ctx, err)
	}
}

func isGetOrHead(ctx *fasthttp.RequestCtx) bool { return ctx.IsGet() || ctx.IsHead() }

// throttle takes a token from l for the client or fails with 429.
func (s *Server) throttle(ctx *fasthttp.RequestCtx, l *ipLimiter, name string) error {
	ok, wait := l.allow(clientKey(s.clientAddr(ctx)), s.site.now())
	if ok {
		return nil
	}
	s.metrics.throttled.WithLabelValues(name).Inc()
	return tooManyRequests(retrySeconds(wait))
}

// demoRequest is the optional body of POST /api/public/demo.
type demoRequest struct {
	Country string `json:"country"` // default DefaultDemoCountry
}

// demoResponse is the contract's answer to POST /api/public/demo.
type demoResponse struct {
	TenantID  int64          `json:"tenant_id"`
	Host      string         `json:"host"`
	Subdomain string         `json:"subdomain"`
	URL       string         `json:"url"`
	ExpiresAt time.Time      `json:"expires_at"`
	Login     bank.DemoLogin `json:"login"`
}

// createDemo answers POST /api/public/demo: a fresh demo tenant under an
// unguessable host, seeded with sample data, expiring after the demo TTL.
func (s *Server) createDemo(ctx *fasthttp.RequestCtx) error {
	if err := s.throttle(ctx, s.site.demoLimit, "demo"); err != nil {
		return err
	}
	var req demoRequest
	if len(bytes.TrimSpace(ctx.PostBody())) > 0 {
		if err := decodeJSON(ctx, &req); err != nil {
			return err
		}
	}
	country := strings.ToUpper(strings.TrimSpace(req.Country))
	if country == "" {
		country = DefaultDemoCountry
	}
	c, cancel := contextFor(s)
	defer cancel()
	if err := s.demoBudget(c); err != nil {
		return err
	}
	var login bank.DemoLogin
	t, err := s.tenants.CreateDemo(c, tenants.DemoRequest{Country: country, TTL: s.site.demoTTL,
		Seed: func(ctx context.Context, db *sql.DB, id int64) (err error) {
			login, err = bank.SeedDemo(ctx, db, id, country)
			return err
		}})
	if err != nil {
		return &publicError{request: "demo", err: err}
	}
	s.metrics.demos.Inc()
	// The demo log outlives the reaped demo, for the conversion figures; a
	// failure to write it costs a data point, not the visitor's demo.
	if err := s.catalog.RecordDemo(c, t.Host, s.site.now()); err != nil {
		s.log.Warn("record demo for conversion", "host", t.Host, "err", err)
	}
	writeJSON(ctx, http.StatusCreated, demoResponse{
		TenantID: t.ID, Host: t.Host, Subdomain: t.Host + "." + s.cfg.RootDomain,
		URL: s.URL(t.Host), ExpiresAt: t.ExpiresAt, Login: login,
	})
	return nil
}

// signupResponse is the contract's answer to POST /api/public/signup (plus
// host and url for convenience).
type signupResponse struct {
	TenantID  int64  `json:"tenant_id"`
	Host      string `json:"host"`
	Subdomain string `json:"subdomain"`
	URL       string `json:"url"`
	SetupURL  string `json:"setup_url"`
	// SetupURLOld is the name the first release used; kept as an alias so
	// existing callers keep working (deprecated: read setup_url).
	SetupURLOld string `json:"setupUrl"`
	// FromDemo is the demo the signup was attributed to ("" if none).
	FromDemo string `json:"from_demo,omitempty"`
	// Token signs the new administrator in right away (role admin), so the
	// first API call needs no second password check.
	Token          string    `json:"token"`
	TokenExpiresAt time.Time `json:"token_expires_at"`
}

// signup answers POST /api/public/signup: validate, provision the tenant and
// its database, create the first user (role admin). The catalog's UNIQUE
// host decides races: one concurrent signup wins, the others get 409.
func (s *Server) signup(ctx *fasthttp.RequestCtx) error {
	if err := s.throttle(ctx, s.site.signupLimit, "signup"); err != nil {
		return err
	}
	var req signupRequest
	if err := decodeJSON(ctx, &req); err != nil {
		return err
	}
	create := tenants.CreateRequest{Host: req.Subdomain, Name: req.Name, Country: req.Country}
	if err := s.checkSignup(&req, &create); err != nil {
		return &publicError{request: "signup", err: err}
	}
	if err := s.signupBudget(); err != nil {
		return err
	}
	c, cancel := contextFor(s)
	defer cancel()
	var admin bank.User
	create.Seed = func(ctx context.Context, db *sql.DB, id int64) (err error) {
		admin, err = bank.New(db, id).CreateUser(ctx, bank.NewUser{
			Email: req.Email, Name: "Administrator", Password: req.Password, Role: bank.RoleAdmin,
		})
		return err
	}
	t, err := s.tenants.Create(c, create)
	if err != nil {
		return &publicError{request: "signup", err: err}
	}
	tok, exp, err := s.auth.Issue(Claims{TenantID: Int(t.ID), UserID: Int(admin.ID), Role: RoleAdmin}, time.Hour)
	if err != nil {
		return err
	}
	fromDemo := ""
	if req.FromDemo != "" {
		ok, err := s.catalog.RecordConversion(c, req.FromDemo, t.ID, s.site.now())
		if err != nil {
			s.log.Warn("record demo conversion", "tenant_id", t.ID, "demo", req.FromDemo, "err", err)
		}
		if ok {
			fromDemo = req.FromDemo
		}
	}
	s.metrics.signups.WithLabelValues(strconv.FormatBool(fromDemo != "")).Inc()
	base := s.URL(t.Host)
	writeJSON(ctx, http.StatusCreated, signupResponse{
		TenantID: t.ID, Host: t.Host, Subdomain: t.Host + "." + s.cfg.RootDomain, URL: base,
		SetupURL: base + "/setup", SetupURLOld: base + "/setup", FromDemo: fromDemo,
		Token: tok, TokenExpiresAt: exp.UTC(),
	})
	return nil
}

// country is one entry of GET /api/public/countries.
type country struct {
	Code     string `json:"code"`
	Currency string `json:"currency"`
}

// listCountries answers GET /api/public/countries: the countries a signup
// may choose, with the currency their accounts are held in.
func (s *Server) listCountries(ctx *fasthttp.RequestCtx) error {
	codes := bank.SupportedCountries()
	out := make([]country, 0, len(codes))
	for _, c := range codes {
		cur, _ := bank.CurrencyFor(c)
		out = append(out, country{Code: c, Currency: cur})
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=3600")
	writeJSON(ctx, http.StatusOK, map[string]any{"countries": out})
	return nil
}

// dashboard routes: the tenant dashboard page at "/" and "/setup" (the
// page a new signup lands on) and the shared assets, served on every
// tenant host without a token or a database.
func (s *Server) serveDashboard(r *tenantRequest) error {
	web.Serve(r.ctx, web.Dashboard)
	return nil
}

func (s *Server) serveTenantAsset(r *tenantRequest) error {
	f := web.Asset(r.params["name"])
	if f == nil {
		return errNotFound
	}
	web.Serve(r.ctx, f)
	return nil
}

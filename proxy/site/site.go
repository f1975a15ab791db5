package site

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
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/proxy/web"
	"github.com/microfi/tenantgate/shard/bank"
)

// Public-site defaults.
const (
	DefaultDemoTTL     = 24 * time.Hour
	DefaultDemoCountry = "GH"
)

// Serve answers the root domain and www: the marketing site, its
// assets and /api/public/*.
func (s *Site) Serve(ctx *fasthttp.RequestCtx) error {
	path := string(ctx.Path())
	switch path {
	case "/", "/index.html":
		return ServePage(ctx, web.Public)
	case "/api/public/demo":
		return onlyMethod(ctx, "POST", s.createDemo)
	case "/api/public/signup":
		return onlyMethod(ctx, "POST", s.signup)
	case "/api/public/countries":
		return onlyMethod(ctx, "GET", s.listCountries)
	}
	if IsGetOrHead(ctx) && web.ServeAsset(ctx) {
		return nil
	}
	return httpapi.ErrNotFound
}

// ServePage serves an embedded page to GET and HEAD.
func ServePage(ctx *fasthttp.RequestCtx, f *web.File) error {
	if !IsGetOrHead(ctx) {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		return httpapi.ErrMethod
	}
	web.Serve(ctx, f)
	return nil
}

// onlyMethod runs h for method (GET also answers HEAD) and 405s otherwise.
func onlyMethod(ctx *fasthttp.RequestCtx, method string, h func(*fasthttp.RequestCtx) error) error {
	m := string(ctx.Method())
	if m != method && !(method == "GET" && m == "HEAD") {
		allow := method
		if method == "GET" {
			allow = "GET, HEAD"
		}
		ctx.Response.Header.Set("Allow", allow)
		return httpapi.ErrMethod
	}
	return h(ctx)
}

// IsGetOrHead reports whether the request is a GET or a HEAD.
func IsGetOrHead(ctx *fasthttp.RequestCtx) bool { return ctx.IsGet() || ctx.IsHead() }

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
func (s *Site) createDemo(ctx *fasthttp.RequestCtx) error {
	if err := s.limit(ctx, "demo"); err != nil {
		return err
	}
	var req demoRequest
	if len(bytes.TrimSpace(ctx.PostBody())) > 0 {
		if err := httpapi.DecodeJSON(ctx, &req); err != nil {
			return err
		}
	}
	country := strings.ToUpper(strings.TrimSpace(req.Country))
	if country == "" {
		country = DefaultDemoCountry
	}
	c, cancel := s.requestContext()
	defer cancel()
	var login bank.DemoLogin
	if err := s.budget(c, "demo"); err != nil {
		return err
	}
	t, err := s.tenants.CreateDemo(c, tenants.DemoRequest{Country: country, TTL: s.demoTTL,
		Seed: func(ctx context.Context, db *sql.DB, id int64) (err error) {
			login, err = bank.SeedDemo(ctx, db, id, country)
			return err
		}})
	if err != nil {
		return &httpapi.PublicError{Request: "demo", Err: err}
	}
	s.demos.Inc()
	s.record(c, ctx, "demo.create", t.ID, map[string]string{"host": t.Host, "country": country,
		"expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)})
	// The demo log outlives the reaped demo, for the conversion figures; a
	// failure to write it costs a data point, not the visitor's demo.
	if err := s.catalog.RecordDemo(c, t.Host, s.now()); err != nil {
		s.log.Warn("record demo for conversion", "host", t.Host, "err", err)
	}
	httpapi.WriteJSON(ctx, http.StatusCreated, demoResponse{
		TenantID: t.ID, Host: t.Host, Subdomain: t.Host + "." + s.rootDomain,
		URL: s.url(t.Host), ExpiresAt: t.ExpiresAt, Login: login,
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
func (s *Site) signup(ctx *fasthttp.RequestCtx) error {
	if err := s.limit(ctx, "signup"); err != nil {
		return err
	}
	var req signupRequest
	if err := httpapi.DecodeJSON(ctx, &req); err != nil {
		return err
	}
	create := tenants.CreateRequest{Host: req.Subdomain, Name: req.Name, Country: req.Country}
	if err := s.checkSignup(&req, &create); err != nil {
		return &httpapi.PublicError{Request: "signup", Err: err}
	}
	c, cancel := s.requestContext()
	defer cancel()
	if err := s.budget(c, "signup"); err != nil {
		return err
	}
	var admin bank.User
	create.Seed = func(ctx context.Context, db *sql.DB, id int64) (err error) {
		admin, err = bank.New(db, id).CreateUser(ctx, bank.NewUser{
			Email: req.Email, Name: "Administrator", Password: req.Password, Role: bank.RoleAdmin,
		})
		return err
	}
	t, err := s.tenants.Create(c, create)
	if err != nil {
		return &httpapi.PublicError{Request: "signup", Err: err}
	}
	tok, exp, err := s.auth.Issue(token.Claims{TenantID: token.Int(t.ID), UserID: token.Int(admin.ID), Role: token.RoleAdmin}, time.Hour)
	if err != nil {
		return err
	}
	fromDemo := ""
	if req.FromDemo != "" {
		ok, err := s.catalog.RecordConversion(c, req.FromDemo, t.ID, s.now())
		if err != nil {
			s.log.Warn("record demo conversion", "tenant_id", t.ID, "demo", req.FromDemo, "err", err)
		}
		if ok {
			fromDemo = req.FromDemo
		}
	}
	s.signups.WithLabelValues(strconv.FormatBool(fromDemo != "")).Inc()
	details := map[string]string{"host": t.Host, "plan": t.Plan, "country": t.CountryCode, "first_admin": "created"}
	if fromDemo != "" {
		details["from_demo"] = fromDemo
	}
	s.record(c, ctx, "tenant.signup", t.ID, details)
	base := s.url(t.Host)
	httpapi.WriteJSON(ctx, http.StatusCreated, signupResponse{
		TenantID: t.ID, Host: t.Host, Subdomain: t.Host + "." + s.rootDomain, URL: base,
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
func (s *Site) listCountries(ctx *fasthttp.RequestCtx) error {
	codes := bank.SupportedCountries()
	out := make([]country, 0, len(codes))
	for _, c := range codes {
		cur, _ := bank.CurrencyFor(c)
		out = append(out, country{Code: c, Currency: cur})
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=3600")
	httpapi.WriteJSON(ctx, http.StatusOK, map[string]any{"countries": out})
	return nil
}

// dashboard routes: the tenant dashboard page at "/" and "/setup" (the
// page a new signup lands on) and the shared assets, served on every
// tenant host without a token or a database.
func Dashboard(r *httpapi.Request) error {
	web.Serve(r.Ctx, web.Dashboard)
	return nil
}

func TenantAsset(r *httpapi.Request) error {
	f := web.Asset(r.Params["name"])
	if f == nil {
		return httpapi.ErrNotFound
	}
	web.Serve(r.Ctx, f)
	return nil
}

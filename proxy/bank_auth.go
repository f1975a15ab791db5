package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/bank"
)

// maxEmailKey is the longest e-mail the login throttle keys on (RFC 5321's
// limit; longer ones cannot belong to a user).
const maxEmailKey = 254

// LoginTTL is how long a token from POST /api/auth/login is valid.
const LoginTTL = 8 * time.Hour

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt string    `json:"expires_at"` // RFC 3339
	User      bank.User `json:"user"`
}

// login answers POST /api/auth/login: the e-mail and password are checked
// against this tenant's users and a token for this tenant is issued. Wrong
// e-mail and wrong password are the same 401 at the same cost; repeated
// failures for one e-mail, address or tenant get 429 with Retry-After.
func (s *Server) login(r *tenantRequest) error {
	var req loginRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if req.Email == "" {
		fields["email"] = "is required"
	}
	if req.Password == "" {
		fields["password"] = "is required"
	}
	if len(fields) > 0 {
		return badRequest("Email and password are required", fields)
	}
	email := bank.NormalizeEmail(req.Email)
	if len(email) > maxEmailKey {
		email = email[:maxEmailKey] // no stored e-mail is longer; bounds the throttle's memory
	}
	key := loginKey{tenant: r.tenant.ID, email: email}
	if name, wait := s.logins.take(key, s.clientAddr(r.ctx), time.Now()); name != "" {
		s.metrics.throttled.WithLabelValues(name).Inc()
		return tooManyRequests(retrySeconds(wait))
	}
	// Hashing waits its tenant's turn (loginqueue.go): unknown e-mails
	// cost a hash like known ones but queue with their tenant.
	if err := s.loginQueue.acquire(r.c, r.tenant.ID); err != nil {
		s.metrics.throttled.WithLabelValues("login_queue").Inc()
		return err
	}
	u, err := func() (bank.User, error) {
		defer s.loginQueue.release(r.tenant.ID)
		return r.store().Authenticate(r.c, req.Email, req.Password)
	}()
	if err != nil {
		if errors.Is(err, bank.ErrInvalidCredentials) {
			s.metrics.authFailures.WithLabelValues("credentials").Inc()
		}
		return err
	}
	s.logins.succeeded(key)
	tok, exp, err := s.auth.Issue(Claims{TenantID: Int(r.tenant.ID), UserID: Int(u.ID), Role: u.Role}, LoginTTL)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, loginResponse{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339), User: u})
	return nil
}

// tenantInfoResponse is what any visitor of a tenant host may know before
// signing in: what the page shows in its header and how its currency is
// written. Nothing that is not already on the signed-in page.
type tenantInfoResponse struct {
	Name           string `json:"name"`
	Host           string `json:"host"`
	Currency       string `json:"currency"`
	CurrencyDigits int    `json:"currency_digits"` // minor-unit digits: 2 for GHS, 0 for UGX
	Demo           bool   `json:"demo"`
	// SignupURL (demos only) opens the public signup form attributed to
	// this demo, for the demo-to-signup conversion figures.
	SignupURL string `json:"signup_url,omitempty"`
}

// tenantInfo answers GET /api/tenant without a token.
func (s *Server) tenantInfo(r *tenantRequest) error {
	cur, _ := bank.CurrencyFor(r.tenant.CountryCode)
	resp := tenantInfoResponse{Name: r.tenant.Name, Host: r.tenant.Host, Currency: cur,
		CurrencyDigits: bank.CurrencyDigits(cur), Demo: r.tenant.Status == catalog.StatusDemo}
	if resp.Demo {
		resp.SignupURL = s.URL("") + "/?" + url.Values{"from_demo": {r.tenant.Host}}.Encode() + "#signup"
	}
	writeJSON(r.ctx, http.StatusOK, resp)
	return nil
}

type meTenant struct {
	ID       int64  `json:"id"`
	Host     string `json:"host"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	Currency string `json:"currency"`
}

type meResponse struct {
	Role   string     `json:"role"`
	User   *bank.User `json:"user"` // null for tokens without a user (service)
	Tenant meTenant   `json:"tenant"`
}

// me answers GET /api/me: who the token is, and which tenant.
func (s *Server) me(r *tenantRequest) error {
	cur, _ := bank.CurrencyFor(r.tenant.CountryCode)
	resp := meResponse{
		Role:   r.claims.Role,
		Tenant: meTenant{ID: r.tenant.ID, Host: r.tenant.Host, Name: r.tenant.Name, Country: r.tenant.CountryCode, Currency: cur},
	}
	if id := r.claims.User(); id != 0 {
		u, err := r.store().GetUser(r.c, id)
		switch {
		case err == nil:
			resp.User = &u
		case !errors.Is(err, bank.ErrNotFound): // a deleted user is just null
			return err
		}
	}
	writeJSON(r.ctx, http.StatusOK, resp)
	return nil
}

package bankapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/shard/bank"
)

// maxEmailKey is the longest e-mail the login throttle keys on (RFC 5321's
// limit; longer ones cannot belong to a user).
const maxEmailKey = 254

// LoginTTL is how long a token from POST /api/auth/login is valid.
const LoginTTL = 8 * time.Hour

type loginRequest struct {
	Email        string `json:"email"`
	Password     string `json:"password"`
	Code         string `json:"code"`          // TOTP code, for users with a second factor
	RecoveryCode string `json:"recovery_code"` // or one of their recovery codes
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt string    `json:"expires_at"` // RFC 3339
	User      bank.User `json:"user"`
	// EnrolRequired: the tenant requires a second factor this user does not
	// have yet; the token only enrols one (token.ScopeEnrol).
	EnrolRequired bool `json:"second_factor_enrolment_required,omitempty"`
}

// login answers POST /api/auth/login: the e-mail and password (and, for a
// user with a second factor, a TOTP or recovery code) are checked against
// this tenant's users and a token for this tenant is issued. Wrong e-mail
// and wrong password are the same 401 at the same cost; repeated failures
// for one e-mail, address or tenant get 429 with Retry-After. Every
// attempt is audited.
func (s *API) Login(r *httpapi.Request) error {
	var req loginRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
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
		return httpapi.BadRequest("Email and password are required", fields)
	}
	email := bank.NormalizeEmail(req.Email)
	if len(email) > maxEmailKey {
		email = email[:maxEmailKey] // no stored e-mail is longer; bounds the throttle's memory
	}
	if err := s.limits.LoginAllowed(r.Ctx, r.Tenant.ID, email); err != nil {
		return err
	}
	st := r.Store()
	actor := r.Actor()
	failed := func(reason string, u bank.User, cause error) error {
		s.limits.AuthFailed(reason)
		a := actor
		if u.ID != 0 {
			a.UserID, a.Role = u.ID, u.Role
		}
		ev := bank.Event{Action: bank.ActionLoginFailed, Details: map[string]string{"email": email, "reason": reason}}
		// The attempt happened even if the request's deadline has passed
		// (slow hashing under load): record it on a context of its own.
		c, cancel := context.WithTimeout(context.WithoutCancel(r.C), auditTimeout)
		defer cancel()
		if err := st.Audit(c, a, ev); err != nil {
			s.log.Error("audit write failed", "tenant_id", r.Tenant.ID, "action", ev.Action, "request_id", actor.RequestID, "err", err)
			return errors.Join(cause, err)
		}
		return cause
	}
	// Hashing waits its tenant's turn (loginqueue.go): unknown e-mails
	// cost a hash like known ones but queue with their tenant.
	release, err := s.limits.HashTurn(r.C, r.Tenant.ID)
	if err != nil {
		return err
	}
	u, err := func() (bank.User, error) {
		defer release()
		return st.Authenticate(r.C, req.Email, req.Password)
	}()
	switch {
	case errors.Is(err, bank.ErrInvalidCredentials):
		return failed("credentials", bank.User{}, err)
	case errors.Is(err, bank.ErrUserDisabled):
		return failed("disabled", u, err)
	case err != nil:
		return err
	}
	factor, scope, ttl := "none", "", LoginTTL
	if u.TOTP {
		factor = "totp"
		if req.RecoveryCode != "" {
			factor = "recovery_code"
		}
		if err := st.CheckSecondFactor(r.C, bank.Actor{UserID: u.ID, Role: u.Role, ClientAddr: actor.ClientAddr, RequestID: actor.RequestID},
			u.ID, req.Code, req.RecoveryCode); err != nil {
			if errors.Is(err, bank.ErrSecondFactorRequired) || errors.Is(err, bank.ErrSecondFactorInvalid) {
				return failed("second_factor", u, err)
			}
			return err
		}
	} else if u.Role == bank.RoleStaff || u.Role == bank.RoleAdmin {
		settings, err := st.GetSettings(r.C)
		if err != nil {
			return err
		}
		if settings.Require2FA {
			scope, ttl = token.ScopeEnrol, EnrolTTL
		}
	}
	s.limits.LoginSucceeded(r.Tenant.ID, email)
	tok, exp, err := s.issueUserToken(r.C, r.Tenant.ID, u, scope, ttl)
	if err != nil {
		return err
	}
	claims, err := s.auth.Verify(tok)
	if err != nil {
		return err
	}
	a := actor
	a.UserID, a.Role, a.TokenID = u.ID, u.Role, claims.ID
	if err := st.Audit(r.C, a, bank.Event{Action: bank.ActionLogin, Details: map[string]string{"second_factor": factor}}); err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, loginResponse{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339), User: u, EnrolRequired: scope == token.ScopeEnrol})
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
func (s *API) TenantInfo(r *httpapi.Request) error {
	cur, _ := bank.CurrencyFor(r.Tenant.CountryCode)
	resp := tenantInfoResponse{Name: r.Tenant.Name, Host: r.Tenant.Host, Currency: cur,
		CurrencyDigits: bank.CurrencyDigits(cur), Demo: r.Tenant.Status == catalog.StatusDemo}
	if resp.Demo {
		resp.SignupURL = s.url("") + "/?" + url.Values{"from_demo": {r.Tenant.Host}}.Encode() + "#signup"
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, resp)
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
func (s *API) Me(r *httpapi.Request) error {
	cur, _ := bank.CurrencyFor(r.Tenant.CountryCode)
	resp := meResponse{
		Role:   r.Claims.Role,
		Tenant: meTenant{ID: r.Tenant.ID, Host: r.Tenant.Host, Name: r.Tenant.Name, Country: r.Tenant.CountryCode, Currency: cur},
	}
	if id := r.Claims.User(); id != 0 {
		u, err := r.Store().GetUser(r.C, id)
		switch {
		case err == nil:
			resp.User = &u
		case !errors.Is(err, bank.ErrNotFound): // a deleted user is just null
			return err
		}
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, resp)
	return nil
}

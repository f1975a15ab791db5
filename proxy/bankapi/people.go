package bankapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/shard/bank"
)

// People and their access (issue 16): user changes, passwords, logout,
// account status, the audit trail and tenant settings. Token revocations
// go to the catalog, inside the tenant change's transaction (BeforeCommit),
// so no change that must revoke tokens commits without doing so.

// auditTimeout bounds an audit write made after the request's own
// deadline may have passed.
const auditTimeout = 5 * time.Second

// EnrolTTL is how long an enrolment-only token (token.ScopeEnrol) is valid.
const EnrolTTL = 15 * time.Minute

// revokeUserHook revokes a user's tokens inside the change's transaction.
func (s *API) revokeUserHook(tenantID int64) bank.BeforeCommit {
	return func(ctx context.Context, u bank.User) error {
		_, err := s.catalog.RevokeUser(ctx, tenantID, u.ID)
		return err
	}
}

// issueUserToken signs a login token for a user, never older than the
// user's or tenant's latest revocation (read fresh, not from the cache).
func (s *API) issueUserToken(c context.Context, tenantID int64, u bank.User, scope string, ttl time.Duration) (string, time.Time, error) {
	rev, err := s.catalog.FreshRevocations(c, tenantID)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.auth.IssueAfter(token.Claims{TenantID: token.Int(tenantID), UserID: token.Int(u.ID), Role: u.Role, Scope: scope}, ttl, rev.NotBefore(u.ID))
}

type tokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"` // RFC 3339
}

func newTokenResponse(tok string, exp time.Time) tokenResponse {
	return tokenResponse{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339)}
}

// logout answers POST /api/auth/logout: this token stops working at once,
// here and (within about a second) on every proxy.
func (s *API) Logout(r *httpapi.Request) error {
	if r.Claims.ID == "" {
		return httpapi.BadRequest("This token has no id and cannot be revoked on its own", nil)
	}
	exp := time.Now().Add(366 * 24 * time.Hour)
	if r.Claims.ExpiresAt != nil {
		exp = r.Claims.ExpiresAt.Add(token.Leeway)
	}
	if err := s.catalog.RevokeToken(r.C, r.Tenant.ID, r.Claims.ID, exp); err != nil {
		return err
	}
	if err := r.Store().Audit(r.C, r.Actor(), bank.Event{Action: bank.ActionLogout}); err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]bool{"revoked": true})
	return nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

var errWrongPassword = &httpapi.Error{Status: http.StatusBadRequest, Message: "Current password is wrong",
	Fields: map[string]string{"current_password": "is wrong"}}

// changePassword answers POST /api/auth/password: the user's own password
// changes, every token of the user (this one too) is revoked, and a fresh
// token is returned.
func (s *API) ChangePassword(r *httpapi.Request) error {
	var req changePasswordRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	if req.CurrentPassword == "" {
		return httpapi.BadRequest("Invalid request", map[string]string{"current_password": "is required"})
	}
	if r.Claims.User() == 0 {
		return token.ErrForbidden
	}
	release, err := s.limits.HashTurn(r.C, r.Tenant.ID) // two hashes: the tenant's turn, as a login's
	if err != nil {
		return err
	}
	u, err := r.Store().ChangePassword(r.C, r.Actor(), r.Claims.User(), req.CurrentPassword, req.NewPassword, s.revokeUserHook(r.Tenant.ID))
	release()
	if errors.Is(err, bank.ErrWrongPassword) {
		return errWrongPassword
	}
	if err != nil {
		return err
	}
	tok, exp, err := s.issueUserToken(r.C, r.Tenant.ID, u, "", LoginTTL)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, newTokenResponse(tok, exp))
	return nil
}

// issuePasswordReset answers POST /api/users/{id}/password-reset (admin):
// a one-time token valid for an hour, shown only in this answer.
func (s *API) IssuePasswordReset(r *httpapi.Request) error {
	id, err := r.PathInt64("id")
	if err != nil {
		return err
	}
	reset, err := r.Store().IssuePasswordReset(r.C, r.Actor(), id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusCreated, map[string]any{
		"token": reset.Token, "user_id": reset.UserID, "expires_at": reset.ExpiresAt.UTC().Format(time.RFC3339),
	})
	return nil
}

type resetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

var errResetInvalid = &httpapi.Error{Status: http.StatusBadRequest, Message: "Invalid or expired reset token",
	Fields: map[string]string{"token": "is invalid, used or expired"}}

// redeemPasswordReset answers POST /api/auth/reset (no token needed): the
// reset token sets a new password once, and every token of the user is
// revoked.
func (s *API) RedeemPasswordReset(r *httpapi.Request) error {
	var req resetPasswordRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return httpapi.BadRequest("Invalid request", map[string]string{"token": "is required"})
	}
	release, err := s.limits.HashTurn(r.C, r.Tenant.ID)
	if err != nil {
		return err
	}
	u, err := r.Store().RedeemPasswordReset(r.C, r.Actor(), req.Token, req.NewPassword, s.revokeUserHook(r.Tenant.ID))
	release()
	if errors.Is(err, bank.ErrResetInvalid) {
		return errResetInvalid
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"reset": true, "user_id": u.ID})
	return nil
}

// updateUser answers PATCH /api/users/{id} (admin) {"name"?,"role"?,"status"?}.
// Disabling a user or changing the role revokes the user's tokens.
func (s *API) UpdateUser(r *httpapi.Request) error {
	id, err := r.PathInt64("id")
	if err != nil {
		return err
	}
	var req bank.UserPatch
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	ch, err := r.Store().UpdateUser(r.C, r.Actor(), id, req, s.revokeUserHook(r.Tenant.ID))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"user": ch.User})
	return nil
}

// disableUserTOTP answers DELETE /api/users/{id}/2fa (admin): removes a
// user's second factor (a lost phone); the user's tokens are revoked.
func (s *API) DisableUserTOTP(r *httpapi.Request) error {
	id, err := r.PathInt64("id")
	if err != nil {
		return err
	}
	if err := r.Store().DisableTOTP(r.C, r.Actor(), id); err != nil {
		return err
	}
	if _, err := s.catalog.RevokeUser(r.C, r.Tenant.ID, id); err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]bool{"two_factor": false})
	return nil
}

type accountStatusRequest struct {
	Status string `json:"status"`
}

// updateAccount answers PATCH /api/accounts/{id} (staff, admin)
// {"status":"active"|"frozen"|"closed"}.
func (s *API) UpdateAccount(r *httpapi.Request) error {
	id, err := r.PathInt64("id")
	if err != nil {
		return err
	}
	var req accountStatusRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	a, err := r.Store().SetAccountStatus(r.C, r.Actor(), id, req.Status)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"account": a})
	return nil
}

// listAudit answers GET /api/audit?limit=&cursor=&action=&user_id= (admin):
// newest first; next_cursor ("" on the last page) fetches the next page.
func (s *API) ListAudit(r *httpapi.Request) error {
	limit, _, err := r.QueryInt64("limit")
	if err != nil {
		return err
	}
	cursor, _, err := r.QueryInt64("cursor")
	if err != nil {
		return err
	}
	user, _, err := r.QueryInt64("user_id")
	if err != nil {
		return err
	}
	action := string(r.Ctx.QueryArgs().Peek("action"))
	if len(action) > 64 {
		return httpapi.BadRequest("Invalid action", map[string]string{"action": "must be at most 64 characters"})
	}
	entries, next, err := r.Store().ListAudit(r.C, bank.AuditQuery{Limit: int(min(limit, bank.MaxPageSize)), Before: cursor, Action: action, UserID: user})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"entries": entries, "next_cursor": httpapi.CursorString(next)})
	return nil
}

// getSettings answers GET /api/settings (staff, admin).
func (s *API) GetSettings(r *httpapi.Request) error {
	st, err := r.Store().GetSettings(r.C)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"settings": st})
	return nil
}

type settingsRequest struct {
	Require2FA *bool `json:"require_2fa"`
}

// patchSettings answers PATCH /api/settings (admin) {"require_2fa"}.
// Requiring a second factor is refused to an admin who has none (they
// would lock themselves out of their own next login).
func (s *API) PatchSettings(r *httpapi.Request) error {
	var req settingsRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	if req.Require2FA == nil {
		return httpapi.BadRequest("Invalid request", map[string]string{"require_2fa": "is required"})
	}
	st := r.Store()
	if *req.Require2FA {
		me, err := st.GetUser(r.C, r.Claims.User())
		if err != nil && !errors.Is(err, bank.ErrNotFound) {
			return err
		}
		if !me.TOTP {
			return &httpapi.Error{Status: http.StatusConflict, Message: "Enable your own second factor first",
				Fields: map[string]string{"require_2fa": "enable your own second factor first"}}
		}
	}
	out, err := st.SetRequire2FA(r.C, r.Actor(), *req.Require2FA)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"settings": out})
	return nil
}

// enrolTOTP answers POST /api/auth/2fa/enrol (staff, admin): a new secret
// as a provisioning URI and QR code; active after confirmation.
func (s *API) EnrolTOTP(r *httpapi.Request) error {
	if r.Claims.User() == 0 {
		return token.ErrForbidden
	}
	e, err := r.Store().EnrolTOTP(r.C, r.Actor(), r.Claims.User(), "MicroFi "+r.Tenant.Name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, e)
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

// confirmTOTP answers POST /api/auth/2fa/confirm {"code"}: the factor is
// active, the recovery codes are shown once, every earlier token of the
// user is revoked and a full token is returned.
func (s *API) ConfirmTOTP(r *httpapi.Request) error {
	var req codeRequest
	if err := httpapi.DecodeJSON(r.Ctx, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return httpapi.BadRequest("Invalid request", map[string]string{"code": "is required"})
	}
	if r.Claims.User() == 0 {
		return token.ErrForbidden
	}
	st := r.Store()
	codes, err := st.ConfirmTOTP(r.C, r.Actor(), r.Claims.User(), req.Code)
	if err != nil {
		return err
	}
	u, err := st.GetUser(r.C, r.Claims.User())
	if err != nil {
		return err
	}
	if _, err := s.catalog.RevokeUser(r.C, r.Tenant.ID, u.ID); err != nil {
		return err
	}
	tok, exp, err := s.issueUserToken(r.C, r.Tenant.ID, u, "", LoginTTL)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(r.Ctx, http.StatusOK, map[string]any{"recovery_codes": codes, "token": tok, "expires_at": exp.UTC().Format(time.RFC3339)})
	return nil
}

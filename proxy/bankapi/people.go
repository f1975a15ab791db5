package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/bank"
)

// People and their access (issue 16): user changes, passwords, logout,
// account status, the audit trail and tenant settings. Token revocations
// go to the catalog, inside the tenant change's transaction (BeforeCommit),
// so no change that must revoke tokens commits without doing so.

// auditTimeout bounds an audit write made after the request's own
// deadline may have passed.
const auditTimeout = 5 * time.Second

// EnrolTTL is how long an enrolment-only token (ScopeEnrol) is valid.
const EnrolTTL = 15 * time.Minute

// actor is the request's principal as the audit trail records it.
func (r *tenantRequest) actor() bank.Actor {
	a := bank.Actor{ClientAddr: clientAddr(r.ctx), RequestID: requestID(r.ctx), Role: "anonymous"}
	if r.claims != nil {
		a.UserID, a.Role, a.TokenID = r.claims.User(), r.claims.Role, r.claims.ID
	}
	return a
}

// clientAddr is the peer's address (a trusted front proxy's forwarded
// address is the edge's business).
func clientAddr(ctx *fasthttp.RequestCtx) string { return ctx.RemoteIP().String() }

// logAudit is the store's audit hook: every committed entry is also an
// info-level structured log line.
func (s *Server) logAudit(tenantID int64, e audit.Entry) {
	catalog.LogAudit(s.log, bank.Scope(tenantID), e)
}

// revokeUserHook revokes a user's tokens inside the change's transaction.
func (s *Server) revokeUserHook(tenantID int64) bank.BeforeCommit {
	return func(ctx context.Context, u bank.User) error {
		_, err := s.catalog.RevokeUser(ctx, tenantID, u.ID)
		return err
	}
}

// issueUserToken signs a login token for a user, never older than the
// user's or tenant's latest revocation (read fresh, not from the cache).
func (s *Server) issueUserToken(c context.Context, tenantID int64, u bank.User, scope string, ttl time.Duration) (string, time.Time, error) {
	rev, err := s.catalog.FreshRevocations(c, tenantID)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.auth.IssueAfter(Claims{TenantID: Int(tenantID), UserID: Int(u.ID), Role: u.Role, Scope: scope}, ttl, rev.NotBefore(u.ID))
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
func (s *Server) logout(r *tenantRequest) error {
	if r.claims.ID == "" {
		return badRequest("This token has no id and cannot be revoked on its own", nil)
	}
	exp := time.Now().Add(366 * 24 * time.Hour)
	if r.claims.ExpiresAt != nil {
		exp = r.claims.ExpiresAt.Add(tokenLeeway)
	}
	if err := s.catalog.RevokeToken(r.c, r.tenant.ID, r.claims.ID, exp); err != nil {
		return err
	}
	if err := r.store().Audit(r.c, r.actor(), bank.Event{Action: bank.ActionLogout}); err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]bool{"revoked": true})
	return nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

var errWrongPassword = &Error{Status: http.StatusBadRequest, Message: "Current password is wrong",
	Fields: map[string]string{"current_password": "is wrong"}}

// changePassword answers POST /api/auth/password: the user's own password
// changes, every token of the user (this one too) is revoked, and a fresh
// token is returned.
func (s *Server) changePassword(r *tenantRequest) error {
	var req changePasswordRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	if req.CurrentPassword == "" {
		return badRequest("Invalid request", map[string]string{"current_password": "is required"})
	}
	if r.claims.User() == 0 {
		return ErrForbidden
	}
	u, err := r.store().ChangePassword(r.c, r.actor(), r.claims.User(), req.CurrentPassword, req.NewPassword, s.revokeUserHook(r.tenant.ID))
	if errors.Is(err, bank.ErrWrongPassword) {
		return errWrongPassword
	}
	if err != nil {
		return err
	}
	tok, exp, err := s.issueUserToken(r.c, r.tenant.ID, u, "", LoginTTL)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, newTokenResponse(tok, exp))
	return nil
}

// issuePasswordReset answers POST /api/users/{id}/password-reset (admin):
// a one-time token valid for an hour, shown only in this answer.
func (s *Server) issuePasswordReset(r *tenantRequest) error {
	id, err := r.pathInt64("id")
	if err != nil {
		return err
	}
	reset, err := r.store().IssuePasswordReset(r.c, r.actor(), id)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusCreated, map[string]any{
		"token": reset.Token, "user_id": reset.UserID, "expires_at": reset.ExpiresAt.UTC().Format(time.RFC3339),
	})
	return nil
}

type resetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

var errResetInvalid = &Error{Status: http.StatusBadRequest, Message: "Invalid or expired reset token",
	Fields: map[string]string{"token": "is invalid, used or expired"}}

// redeemPasswordReset answers POST /api/auth/reset (no token needed): the
// reset token sets a new password once, and every token of the user is
// revoked.
func (s *Server) redeemPasswordReset(r *tenantRequest) error {
	var req resetPasswordRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return badRequest("Invalid request", map[string]string{"token": "is required"})
	}
	u, err := r.store().RedeemPasswordReset(r.c, r.actor(), req.Token, req.NewPassword, s.revokeUserHook(r.tenant.ID))
	if errors.Is(err, bank.ErrResetInvalid) {
		return errResetInvalid
	}
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"reset": true, "user_id": u.ID})
	return nil
}

// updateUser answers PATCH /api/users/{id} (admin) {"name"?,"role"?,"status"?}.
// Disabling a user or changing the role revokes the user's tokens.
func (s *Server) updateUser(r *tenantRequest) error {
	id, err := r.pathInt64("id")
	if err != nil {
		return err
	}
	var req bank.UserPatch
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	ch, err := r.store().UpdateUser(r.c, r.actor(), id, req, s.revokeUserHook(r.tenant.ID))
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"user": ch.User})
	return nil
}

// disableUserTOTP answers DELETE /api/users/{id}/2fa (admin): removes a
// user's second factor (a lost phone); the user's tokens are revoked.
func (s *Server) disableUserTOTP(r *tenantRequest) error {
	id, err := r.pathInt64("id")
	if err != nil {
		return err
	}
	if err := r.store().DisableTOTP(r.c, r.actor(), id); err != nil {
		return err
	}
	if _, err := s.catalog.RevokeUser(r.c, r.tenant.ID, id); err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]bool{"two_factor": false})
	return nil
}

type accountStatusRequest struct {
	Status string `json:"status"`
}

// updateAccount answers PATCH /api/accounts/{id} (staff, admin)
// {"status":"active"|"frozen"|"closed"}.
func (s *Server) updateAccount(r *tenantRequest) error {
	id, err := r.pathInt64("id")
	if err != nil {
		return err
	}
	var req accountStatusRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	a, err := r.store().SetAccountStatus(r.c, r.actor(), id, req.Status)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"account": a})
	return nil
}

// listAudit answers GET /api/audit?limit=&cursor=&action=&user_id= (admin):
// newest first; next_cursor ("" on the last page) fetches the next page.
func (s *Server) listAudit(r *tenantRequest) error {
	limit, _, err := r.queryInt64("limit")
	if err != nil {
		return err
	}
	cursor, _, err := r.queryInt64("cursor")
	if err != nil {
		return err
	}
	user, _, err := r.queryInt64("user_id")
	if err != nil {
		return err
	}
	action := string(r.ctx.QueryArgs().Peek("action"))
	if len(action) > 64 {
		return badRequest("Invalid action", map[string]string{"action": "must be at most 64 characters"})
	}
	entries, next, err := r.store().ListAudit(r.c, bank.AuditQuery{Limit: int(min(limit, bank.MaxPageSize)), Before: cursor, Action: action, UserID: user})
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"entries": entries, "next_cursor": cursorString(next)})
	return nil
}

func cursorString(next int64) string {
	if next == 0 {
		return ""
	}
	return itoa(int(next))
}

// getSettings answers GET /api/settings (staff, admin).
func (s *Server) getSettings(r *tenantRequest) error {
	st, err := r.store().GetSettings(r.c)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"settings": st})
	return nil
}

type settingsRequest struct {
	Require2FA *bool `json:"require_2fa"`
}

// patchSettings answers PATCH /api/settings (admin) {"require_2fa"}.
// Requiring a second factor is refused to an admin who has none (they
// would lock themselves out of their own next login).
func (s *Server) patchSettings(r *tenantRequest) error {
	var req settingsRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	if req.Require2FA == nil {
		return badRequest("Invalid request", map[string]string{"require_2fa": "is required"})
	}
	st := r.store()
	if *req.Require2FA {
		me, err := st.GetUser(r.c, r.claims.User())
		if err != nil && !errors.Is(err, bank.ErrNotFound) {
			return err
		}
		if !me.TOTP {
			return &Error{Status: http.StatusConflict, Message: "Enable your own second factor first",
				Fields: map[string]string{"require_2fa": "enable your own second factor first"}}
		}
	}
	out, err := st.SetRequire2FA(r.c, r.actor(), *req.Require2FA)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"settings": out})
	return nil
}

// enrolTOTP answers POST /api/auth/2fa/enrol (staff, admin): a new secret
// as a provisioning URI and QR code; active after confirmation.
func (s *Server) enrolTOTP(r *tenantRequest) error {
	if r.claims.User() == 0 {
		return ErrForbidden
	}
	e, err := r.store().EnrolTOTP(r.c, r.actor(), r.claims.User(), "MicroFi "+r.tenant.Name)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, e)
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

// confirmTOTP answers POST /api/auth/2fa/confirm {"code"}: the factor is
// active, the recovery codes are shown once, every earlier token of the
// user is revoked and a full token is returned.
func (s *Server) confirmTOTP(r *tenantRequest) error {
	var req codeRequest
	if err := decodeJSON(r.ctx, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return badRequest("Invalid request", map[string]string{"code": "is required"})
	}
	if r.claims.User() == 0 {
		return ErrForbidden
	}
	st := r.store()
	codes, err := st.ConfirmTOTP(r.c, r.actor(), r.claims.User(), req.Code)
	if err != nil {
		return err
	}
	u, err := st.GetUser(r.c, r.claims.User())
	if err != nil {
		return err
	}
	if _, err := s.catalog.RevokeUser(r.c, r.tenant.ID, u.ID); err != nil {
		return err
	}
	tok, exp, err := s.issueUserToken(r.c, r.tenant.ID, u, "", LoginTTL)
	if err != nil {
		return err
	}
	writeJSON(r.ctx, http.StatusOK, map[string]any{"recovery_codes": codes, "token": tok, "expires_at": exp.UTC().Format(time.RFC3339)})
	return nil
}

package bank

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// UserPatch is a partial change to a user; nil fields are left alone.
type UserPatch struct {
	Name   *string `json:"name"`
	Role   *string `json:"role"`
	Status *string `json:"status"`
}

// UserChange is what UpdateUser did.
type UserChange struct {
	User User
	// Revoke: the user's existing tokens must stop working (disabled, or
	// the role they carry changed).
	Revoke bool
}

// BeforeCommit runs inside a change's transaction, just before it
// commits: the proxy revokes tokens there, so a change that needs its
// tokens revoked never commits without the revocation.
type BeforeCommit func(ctx context.Context, u User) error

func validatePatch(p *UserPatch) error {
	v := validation{}
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		p.Name = &n
		switch {
		case n == "":
			v.add("name", "is required")
		case utf8.RuneCountInString(n) > 100:
			v.add("name", "must be at most 100 characters")
		case !displaySafe(n):
			v.add("name", "must not contain control or bidirectional-override characters")
		}
	}
	if p.Role != nil {
		switch *p.Role {
		case RoleCustomer, RoleStaff, RoleAdmin:
		default:
			v.add("role", "must be one of customer, staff, admin")
		}
	}
	if p.Status != nil && *p.Status != UserActive && *p.Status != UserDisabled {
		v.add("status", "must be active or disabled")
	}
	if p.Name == nil && p.Role == nil && p.Status == nil {
		v.add("name", "give at least one of name, role, status")
	}
	return v.err()
}

// UpdateUser applies a patch. Disabling or demoting the tenant's last
// active admin fails with ErrLastAdmin. before (optional) runs before the
// commit when the change needs the user's tokens revoked.
func (s *Store) UpdateUser(ctx context.Context, a Actor, id int64, p UserPatch, before BeforeCommit) (UserChange, error) {
	if err := validatePatch(&p); err != nil {
		return UserChange{}, err
	}
	var out UserChange
	err := s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		old, err := getUserTx(ctx, tx, s.tenantID, id)
		if err != nil {
			return err
		}
		next := old
		details := map[string]string{}
		if p.Name != nil && *p.Name != old.Name {
			next.Name = *p.Name
			details["name"] = "changed" // names are personal data: the trail says that, not what
		}
		if p.Role != nil && *p.Role != old.Role {
			next.Role = *p.Role
			details["role"] = old.Role + " → " + next.Role
		}
		if p.Status != nil && *p.Status != old.Status {
			next.Status = *p.Status
			details["status"] = old.Status + " → " + next.Status
		}
		if len(details) == 0 {
			out = UserChange{User: old}
			return nil
		}
		wasAdmin := old.Role == RoleAdmin && old.Status == UserActive
		isAdmin := next.Role == RoleAdmin && next.Status == UserActive
		if wasAdmin && !isAdmin {
			var others int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE tenant_id = ? AND role = 'admin' AND status = 'active' AND id <> ?`,
				s.tenantID, id).Scan(&others); err != nil {
				return fmt.Errorf("count admins: %w", classify(err))
			}
			if others == 0 {
				return ErrLastAdmin
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ?, role = ?, status = ? WHERE tenant_id = ? AND id = ?`,
			next.Name, next.Role, next.Status, s.tenantID, id); err != nil {
			return fmt.Errorf("update user %d: %w", id, classify(err))
		}
		if err := record(a, Event{Action: ActionUserUpdate, TargetType: "user", TargetID: id, Details: details}); err != nil {
			return err
		}
		out = UserChange{User: next, Revoke: next.Role != old.Role || next.Status == UserDisabled}
		if out.Revoke && before != nil {
			return before(ctx, next)
		}
		return nil
	})
	return out, err
}

func getUserTx(ctx context.Context, tx *sql.Tx, tenantID, id int64) (User, error) {
	var u User
	err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id), &u)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, classify(err))
	}
	return u, nil
}

// ChangePassword sets a user's own new password after checking the
// current one (ErrWrongPassword). before runs before the commit: the
// user's other tokens are revoked there.
func (s *Store) ChangePassword(ctx context.Context, a Actor, userID int64, current, next string, before BeforeCommit) (User, error) {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return User{}, err
	}
	if msg := PasswordProblem(next, u.Email); msg != "" {
		return User{}, &ValidationError{Fields: map[string]string{"new_password": msg}}
	}
	var hash string
	if err := s.on(nil).QueryRowContext(ctx, `SELECT password_hash FROM users WHERE tenant_id = ? AND id = ?`, s.tenantID, userID).Scan(&hash); err != nil {
		return User{}, fmt.Errorf("read password: %w", classify(err))
	}
	if len(current) > MaxPasswordLen {
		current = current[:MaxPasswordLen]
	}
	ok, _, err := verifyPassword(ctx, hash, current)
	if err != nil && !errors.Is(err, errBadHash) {
		return User{}, err
	}
	if !ok {
		return User{}, ErrWrongPassword
	}
	newHash, err := HashPassword(ctx, next)
	if err != nil {
		return User{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ? AND password_hash = ?`,
			newHash, s.tenantID, userID, hash)
		if err != nil {
			return fmt.Errorf("change password: %w", classify(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrWrongPassword // changed concurrently: the "current" one is no longer current
		}
		if err := record(a, Event{Action: ActionPasswordChange, TargetType: "user", TargetID: userID}); err != nil {
			return err
		}
		if before != nil {
			return before(ctx, u)
		}
		return nil
	})
	return u, err
}

// ResetTTL is how long a password reset token is valid.
const ResetTTL = time.Hour

// PasswordReset is a one-time reset token, shown once.
type PasswordReset struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	UserID    int64     `json:"user_id"`
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken is 32 bytes from the system CSPRNG, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on an unusable source)
	return base64.RawURLEncoding.EncodeToString(b)
}

// IssuePasswordReset creates a one-time reset token for a user, valid for
// ResetTTL; only its hash is stored, and earlier unused tokens of the user
// stop working.
func (s *Store) IssuePasswordReset(ctx context.Context, a Actor, userID int64) (PasswordReset, error) {
	tok := randomToken()
	exp := time.Now().Add(ResetTTL).Truncate(time.Second)
	err := s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		if _, err := getUserTx(ctx, tx, s.tenantID, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE password_resets SET used = 1 WHERE tenant_id = ? AND user_id = ? AND used = 0`, s.tenantID, userID); err != nil {
			return fmt.Errorf("password reset: %w", classify(err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, tenant_id, user_id, expires_at) VALUES (?, ?, ?, ?)`,
			tokenHash(tok), s.tenantID, userID, exp.Unix()); err != nil {
			return fmt.Errorf("password reset: %w", classify(err))
		}
		return record(a, Event{Action: ActionPasswordResetIssue, TargetType: "user", TargetID: userID,
			Details: map[string]string{"expires_at": exp.UTC().Format(time.RFC3339)}})
	})
	if err != nil {
		return PasswordReset{}, err
	}
	return PasswordReset{Token: tok, ExpiresAt: exp, UserID: userID}, nil
}

// RedeemPasswordReset sets a new password with a reset token (once, before
// it expires; else ErrResetInvalid). before runs before the commit: the
// user's tokens are revoked there.
func (s *Store) RedeemPasswordReset(ctx context.Context, a Actor, token, next string, before BeforeCommit) (User, error) {
	if token == "" || len(token) > 128 {
		return User{}, ErrResetInvalid
	}
	var userID, expires int64
	var used bool
	err := s.on(nil).QueryRowContext(ctx, `SELECT user_id, expires_at, used FROM password_resets WHERE tenant_id = ? AND token_hash = ?`,
		s.tenantID, tokenHash(token)).Scan(&userID, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (used || time.Now().Unix() >= expires)) {
		return User{}, ErrResetInvalid
	}
	if err != nil {
		return User{}, fmt.Errorf("password reset: %w", classify(err))
	}
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return User{}, err
	}
	if msg := PasswordProblem(next, u.Email); msg != "" {
		return User{}, &ValidationError{Fields: map[string]string{"new_password": msg}}
	}
	hash, err := HashPassword(ctx, next)
	if err != nil {
		return User{}, err
	}
	a.UserID, a.Role = u.ID, u.Role
	err = s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		res, err := tx.ExecContext(ctx, `UPDATE password_resets SET used = 1 WHERE tenant_id = ? AND token_hash = ? AND used = 0 AND expires_at > ?`,
			s.tenantID, tokenHash(token), time.Now().Unix())
		if err != nil {
			return fmt.Errorf("password reset: %w", classify(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrResetInvalid // redeemed concurrently
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?`, hash, s.tenantID, userID); err != nil {
			return fmt.Errorf("password reset: %w", classify(err))
		}
		if err := record(a, Event{Action: ActionPasswordReset, TargetType: "user", TargetID: userID}); err != nil {
			return err
		}
		if before != nil {
			return before(ctx, u)
		}
		return nil
	})
	return u, err
}

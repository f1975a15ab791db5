package bank

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Second factor: TOTP (RFC 6238, 30-second steps, six digits, SHA-1 as
// every authenticator app expects) with single-use recovery codes.

// Errors of the second factor.
var (
	// ErrSecondFactorRequired: the user has a second factor (or the tenant
	// requires one) and the login gave no code.
	ErrSecondFactorRequired = errors.New("second factor required")
	// ErrSecondFactorInvalid: a wrong, expired or already used code.
	ErrSecondFactorInvalid = errors.New("invalid second factor code")
	// ErrSecondFactorEnrolled: enrolment asked for while one is active.
	ErrSecondFactorEnrolled = errors.New("second factor already enabled")
	// ErrSecondFactorNotEnrolled: confirmation without an enrolment.
	ErrSecondFactorNotEnrolled = errors.New("no second factor enrolment")
)

const (
	totpPeriod        = 30
	totpSkew          = 1 // one step either side absorbs clock drift
	recoveryCodeCount = 10
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Skew: totpSkew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is what a user needs to add the factor to an authenticator.
type Enrolment struct {
	Secret string `json:"secret"` // base32, for typing in by hand
	URI    string `json:"uri"`    // otpauth:// provisioning URI
	QRCode string `json:"qr_png"` // the URI as a PNG QR code, base64
}

// EnrolTOTP starts (or restarts) enrolment: a new secret, not active
// until ConfirmTOTP sees a code from it. issuer names the institution in
// the authenticator app.
func (s *Store) EnrolTOTP(ctx context.Context, a Actor, userID int64, issuer string) (Enrolment, error) {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return Enrolment{}, err
	}
	if u.TOTP {
		return Enrolment{}, ErrSecondFactorEnrolled
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Email, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp secret: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrolment{}, fmt.Errorf("totp qr code: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_totp (user_id, tenant_id, secret, confirmed, last_step) VALUES (?, ?, ?, 0, 0)
			ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0 WHERE confirmed = 0`,
			userID, s.tenantID, key.Secret()); err != nil {
			return fmt.Errorf("totp enrol: %w", classify(err))
		}
		return record(a, Event{Action: ActionTOTPEnrol, TargetType: "user", TargetID: userID})
	})
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: key.Secret(), URI: key.URL(), QRCode: base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP activates an enrolment with a current code and returns the
// recovery codes (shown once; only their hashes are kept).
func (s *Store) ConfirmTOTP(ctx context.Context, a Actor, userID int64, code string) ([]string, error) {
	codes := make([]string, recoveryCodeCount)
	for i := range codes {
		codes[i] = recoveryCode()
	}
	err := s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		var secret string
		var confirmed bool
		var last int64
		err := tx.QueryRowContext(ctx, `SELECT secret, confirmed, last_step FROM user_totp WHERE tenant_id = ? AND user_id = ?`,
			s.tenantID, userID).Scan(&secret, &confirmed, &last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrSecondFactorNotEnrolled
		case err != nil:
			return fmt.Errorf("totp confirm: %w", classify(err))
		case confirmed:
			return ErrSecondFactorEnrolled
		}
		step, ok := matchTOTP(secret, code, last, time.Now())
		if !ok {
			return ErrSecondFactorInvalid
		}
		if _, err := tx.ExecContext(ctx, `UPDATE user_totp SET confirmed = 1, last_step = ? WHERE tenant_id = ? AND user_id = ?`,
			step, s.tenantID, userID); err != nil {
			return fmt.Errorf("totp confirm: %w", classify(err))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE tenant_id = ? AND user_id = ?`, s.tenantID, userID); err != nil {
			return fmt.Errorf("recovery codes: %w", classify(err))
		}
		for _, c := range codes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (tenant_id, user_id, code_hash) VALUES (?, ?, ?)`,
				s.tenantID, userID, tokenHash(normalizeRecovery(c))); err != nil {
				return fmt.Errorf("recovery codes: %w", classify(err))
			}
		}
		return record(a, Event{Action: ActionTOTPEnable, TargetType: "user", TargetID: userID})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP removes a user's second factor and recovery codes (an admin
// helping someone who lost the phone, or the user).
func (s *Store) DisableTOTP(ctx context.Context, a Actor, userID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		if _, err := getUserTx(ctx, tx, s.tenantID, userID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM user_totp WHERE tenant_id = ? AND user_id = ?`, s.tenantID, userID)
		if err != nil {
			return fmt.Errorf("totp disable: %w", classify(err))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE tenant_id = ? AND user_id = ?`, s.tenantID, userID); err != nil {
			return fmt.Errorf("totp disable: %w", classify(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return record(a, Event{Action: ActionTOTPDisable, TargetType: "user", TargetID: userID})
	})
}

// CheckSecondFactor verifies a login's TOTP code or recovery code for a
// user with an active factor. A TOTP code is accepted once: its time step
// must be newer than the last accepted one, so a replayed (or older) code
// is refused. A recovery code works once.
func (s *Store) CheckSecondFactor(ctx context.Context, a Actor, userID int64, code, recovery string) error {
	if code == "" && recovery == "" {
		return ErrSecondFactorRequired
	}
	return s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		if recovery != "" {
			res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used = 1 WHERE tenant_id = ? AND user_id = ? AND code_hash = ? AND used = 0`,
				s.tenantID, userID, tokenHash(normalizeRecovery(recovery)))
			if err != nil {
				return fmt.Errorf("recovery code: %w", classify(err))
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrSecondFactorInvalid
			}
			return record(a, Event{Action: ActionRecoveryCodeUsed, TargetType: "user", TargetID: userID})
		}
		var secret string
		var last int64
		err := tx.QueryRowContext(ctx, `SELECT secret, last_step FROM user_totp WHERE tenant_id = ? AND user_id = ? AND confirmed = 1`,
			s.tenantID, userID).Scan(&secret, &last)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrSecondFactorInvalid
		}
		if err != nil {
			return fmt.Errorf("totp check: %w", classify(err))
		}
		step, ok := matchTOTP(secret, code, last, time.Now())
		if !ok {
			return ErrSecondFactorInvalid
		}
		// The condition repeats the check, so two logins racing with the
		// same code cannot both pass.
		res, err := tx.ExecContext(ctx, `UPDATE user_totp SET last_step = ? WHERE tenant_id = ? AND user_id = ? AND last_step < ?`,
			step, s.tenantID, userID, step)
		if err != nil {
			return fmt.Errorf("totp check: %w", classify(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrSecondFactorInvalid
		}
		return nil
	})
}

// matchTOTP finds the time step (within the skew) whose code is code and
// that is newer than last.
func matchTOTP(secret, code string, last int64, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		s := step + d
		if s <= last {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// recoveryCode is 10 characters from an alphabet without look-alikes,
// shown as xxxxx-xxxxx (~50 bits).
func recoveryCode() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := []byte(randomToken())
	out := make([]byte, 0, 11)
	for i := 0; len(out) < 11; i++ {
		if len(out) == 5 {
			out = append(out, '-')
			continue
		}
		out = append(out, alphabet[int(b[i])%len(alphabet)])
	}
	return string(out)
}

func normalizeRecovery(c string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(c), "-", ""))
}

// Settings are a tenant's own settings.
type Settings struct {
	Require2FA bool `json:"require_2fa"` // staff and admins must log in with a second factor
}

// GetSettings reads the tenant's settings (defaults when never set).
func (s *Store) GetSettings(ctx context.Context) (Settings, error) {
	var st Settings
	err := s.on(nil).QueryRowContext(ctx, `SELECT require_2fa FROM tenant_settings WHERE tenant_id = ?`, s.tenantID).Scan(&st.Require2FA)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("read settings: %w", classify(err))
	}
	return st, nil
}

// SetRequire2FA changes the setting, recorded in the audit trail.
func (s *Store) SetRequire2FA(ctx context.Context, a Actor, on bool) (Settings, error) {
	err := s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		var old bool
		err := tx.QueryRowContext(ctx, `SELECT require_2fa FROM tenant_settings WHERE tenant_id = ?`, s.tenantID).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read settings: %w", classify(err))
		}
		if err == nil && old == on {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, require_2fa) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET require_2fa = excluded.require_2fa, updated_at = CURRENT_TIMESTAMP`,
			s.tenantID, on); err != nil {
			return fmt.Errorf("update settings: %w", classify(err))
		}
		return record(a, Event{Action: ActionSettingsUpdate, TargetType: "settings",
			Details: map[string]string{"require_2fa": fmt.Sprint(old) + " → " + fmt.Sprint(on)}})
	})
	return Settings{Require2FA: on}, err
}

package proxy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// login signs in through the API and returns the token (failing the test
// unless the answer is 200).
func (f *bankFixture) login(t *testing.T, s *proxytest.Server, email, password string, extra ...string) string {
	t.Helper()
	body := map[string]string{"email": email, "password": password}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	r := s.Do("POST", f.host, "/api/auth/login", "", body)
	if r.Status != 200 {
		t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	var out struct{ Token string }
	r.JSON(t, &out)
	return out.Token
}

func wantStatus(t *testing.T, r proxytest.Response, status int, msg string) {
	t.Helper()
	if r.Status != status || (msg != "" && r.Error() != msg) {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, msg)
	}
}

// A disabled teller's token stops working on the next request here, and
// within a second on another proxy sharing the catalog and tenant files.
func TestDisabledUserTokenRevokedEverywhere(t *testing.T) {
	dir := t.TempDir()
	// Both proxies poll the change log at the production interval.
	a := proxytest.Start(t, proxytest.Options{DataDir: dir, PollInterval: catalog.DefaultPollInterval})
	f := newBankFixture(t, a, "revoke", "GH")
	b := proxytest.Start(t, proxytest.Options{DataDir: dir, PollInterval: catalog.DefaultPollInterval})

	teller := f.login(t, a, f.staff.Email, fixturePassword)
	// Both proxies have served (and cached the revocation state for) the tenant.
	wantStatus(t, a.Do("GET", f.host, "/api/accounts", teller, nil), 200, "")
	wantStatus(t, b.Do("GET", f.host, "/api/accounts", teller, nil), 200, "")

	r := a.Do("PATCH", f.host, fmt.Sprintf("/api/users/%d", f.staff.ID), f.tokens[proxy.RoleAdmin], map[string]string{"status": "disabled"})
	wantStatus(t, r, 200, "")
	var body struct{ User bank.User }
	r.JSON(t, &body)
	if body.User.Status != bank.UserDisabled {
		t.Fatalf("user after PATCH: %+v", body.User)
	}
	disabledAt := time.Now()
	wantStatus(t, a.Do("GET", f.host, "/api/accounts", teller, nil), 401, "Invalid token")

	for {
		r := b.Do("GET", f.host, "/api/accounts", teller, nil)
		if r.Status == 401 {
			wantStatus(t, r, 401, "Invalid token")
			break
		}
		wantStatus(t, r, 200, "")
		if time.Since(disabledAt) > time.Second {
			t.Fatalf("second proxy still honours the disabled teller's token after %v", time.Since(disabledAt))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("second proxy refused the token %v after the disable", time.Since(disabledAt))

	// A disabled user cannot log in; users list shows the status.
	wantStatus(t, a.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.staff.Email, "password": fixturePassword}), 403, "Account disabled")
	r = a.Do("GET", f.host, "/api/users", f.tokens[proxy.RoleAdmin], nil)
	if !strings.Contains(string(r.Body), `"status":"disabled"`) {
		t.Fatalf("users list does not show the disabled status: %s", r.Body)
	}
	// Enabled again: a new login works, the old token stays revoked.
	wantStatus(t, a.Do("PATCH", f.host, fmt.Sprintf("/api/users/%d", f.staff.ID), f.tokens[proxy.RoleAdmin], map[string]string{"status": "active"}), 200, "")
	fresh := f.login(t, a, f.staff.Email, fixturePassword)
	wantStatus(t, b.Do("GET", f.host, "/api/accounts", fresh, nil), 200, "")
	wantStatus(t, b.Do("GET", f.host, "/api/accounts", teller, nil), 401, "Invalid token")
}

func TestLastAdminAndUserPatchErrors(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "lastadmin", "GH")
	admin := f.tokens[proxy.RoleAdmin]
	path := fmt.Sprintf("/api/users/%d", f.admin.ID)
	wantStatus(t, s.Do("PATCH", f.host, path, admin, map[string]string{"status": "disabled"}), 409, "The last active admin cannot be disabled or demoted")
	wantStatus(t, s.Do("PATCH", f.host, path, admin, map[string]string{"role": "staff"}), 409, "The last active admin cannot be disabled or demoted")
	// Bad input is a 400 with fields; roles are 403; unknown users 404.
	r := s.Do("PATCH", f.host, path, admin, map[string]string{"role": "root", "status": "gone"})
	wantStatus(t, r, 400, "Invalid request")
	if !strings.Contains(string(r.Body), `"role"`) || !strings.Contains(string(r.Body), `"status"`) {
		t.Fatalf("fields missing: %s", r.Body)
	}
	wantStatus(t, s.Do("PATCH", f.host, path, f.tokens[proxy.RoleStaff], map[string]string{"name": "X"}), 403, "Forbidden")
	wantStatus(t, s.Do("PATCH", f.host, "/api/users/99999", admin, map[string]string{"name": "X"}), 404, "Not found")
	// A second admin makes demoting the first possible; the demoted admin's
	// token no longer carries admin rights.
	wantStatus(t, s.Do("PATCH", f.host, fmt.Sprintf("/api/users/%d", f.staff.ID), admin, map[string]string{"role": "admin"}), 200, "")
	wantStatus(t, s.Do("PATCH", f.host, path, admin, map[string]string{"role": "staff"}), 200, "")
	wantStatus(t, s.Do("GET", f.host, "/api/audit", admin, nil), 401, "Invalid token")
}

// After logout the token is refused; after a password reset the old
// password and the old tokens are refused.
func TestLogoutAndPasswordReset(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "reset", "GH")

	tok := f.login(t, s, f.alice.Email, fixturePassword)
	other := f.login(t, s, f.alice.Email, fixturePassword)
	wantStatus(t, s.Do("POST", f.host, "/api/auth/logout", tok, nil), 200, "")
	wantStatus(t, s.Do("GET", f.host, "/api/me", tok, nil), 401, "Invalid token")
	wantStatus(t, s.Do("GET", f.host, "/api/me", other, nil), 200, "") // only that one token

	r := s.Do("POST", f.host, fmt.Sprintf("/api/users/%d/password-reset", f.alice.ID), f.tokens[proxy.RoleAdmin], nil)
	wantStatus(t, r, 201, "")
	var reset struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	r.JSON(t, &reset)
	if exp, err := time.Parse(time.RFC3339, reset.ExpiresAt); err != nil || time.Until(exp) > time.Hour+time.Second || time.Until(exp) < 59*time.Minute {
		t.Fatalf("reset expiry %q", reset.ExpiresAt)
	}
	// Only admins issue resets.
	wantStatus(t, s.Do("POST", f.host, fmt.Sprintf("/api/users/%d/password-reset", f.alice.ID), f.tokens[proxy.RoleStaff], nil), 403, "Forbidden")

	const newPassword = "Fresh-start-2027"
	wantStatus(t, s.Do("POST", f.host, "/api/auth/reset", "", map[string]string{"token": reset.Token, "new_password": "password123"}), 400, "Invalid request")
	wantStatus(t, s.Do("POST", f.host, "/api/auth/reset", "", map[string]string{"token": reset.Token, "new_password": newPassword}), 200, "")
	// One time only.
	wantStatus(t, s.Do("POST", f.host, "/api/auth/reset", "", map[string]string{"token": reset.Token, "new_password": "Another-one-2028"}), 400, "Invalid or expired reset token")

	wantStatus(t, s.Do("GET", f.host, "/api/me", other, nil), 401, "Invalid token")
	wantStatus(t, s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.alice.Email, "password": fixturePassword}), 401, "Invalid credentials")
	fresh := f.login(t, s, f.alice.Email, newPassword) // same second as the revocation: still honoured
	wantStatus(t, s.Do("GET", f.host, "/api/me", fresh, nil), 200, "")

	// Changing one's own password revokes every other token and returns a new one.
	second := f.login(t, s, f.alice.Email, newPassword)
	wantStatus(t, s.Do("POST", f.host, "/api/auth/password", fresh, map[string]string{"current_password": "wrong-Password-1", "new_password": "Changed-pass-2029"}), 400, "Current password is wrong")
	r = s.Do("POST", f.host, "/api/auth/password", fresh, map[string]string{"current_password": newPassword, "new_password": "Changed-pass-2029"})
	wantStatus(t, r, 200, "")
	var changed struct{ Token string }
	r.JSON(t, &changed)
	wantStatus(t, s.Do("GET", f.host, "/api/me", second, nil), 401, "Invalid token")
	wantStatus(t, s.Do("GET", f.host, "/api/me", fresh, nil), 401, "Invalid token")
	wantStatus(t, s.Do("GET", f.host, "/api/me", changed.Token, nil), 200, "")
	f.login(t, s, f.alice.Email, "Changed-pass-2029")
}

// A frozen account takes no postings in or out; a closed one is final.
func TestAccountFreezeAndClose(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "freeze", "GH")
	staff := f.tokens[proxy.RoleStaff]
	acc := fmt.Sprintf("/api/accounts/%d", f.aliceAcc.ID)

	wantStatus(t, s.Do("PATCH", f.host, acc, f.tokens[proxy.RoleCustomer], map[string]string{"status": "frozen"}), 403, "Forbidden")
	wantStatus(t, s.Do("PATCH", f.host, acc, staff, map[string]string{"status": "asleep"}), 400, "Invalid request")
	wantStatus(t, s.Do("PATCH", f.host, "/api/accounts/99999", staff, map[string]string{"status": "frozen"}), 404, "Not found")
	r := s.Do("PATCH", f.host, acc, staff, map[string]string{"status": "frozen"})
	wantStatus(t, r, 200, "")
	if !strings.Contains(string(r.Body), `"status":"frozen"`) {
		t.Fatalf("PATCH answer: %s", r.Body)
	}
	post := func(typ string, from, to int64, token string) proxytest.Response {
		body := map[string]any{"type": typ, "account_id": from, "amount": 500}
		if to != 0 {
			body["to_account_id"] = to
		}
		return s.Do("POST", f.host, "/api/transactions", token, body)
	}
	wantStatus(t, post("deposit", f.aliceAcc.ID, 0, staff), 422, "Account inactive")
	wantStatus(t, post("withdrawal", f.aliceAcc.ID, 0, staff), 422, "Account inactive")
	wantStatus(t, post("transfer", f.bobAcc.ID, f.aliceAcc.ID, staff), 422, "Account inactive")
	wantStatus(t, post("withdrawal", f.aliceAcc.ID, 0, f.tokens[proxy.RoleCustomer]), 422, "Account inactive")
	if got := f.balance(t, f.aliceAcc.ID); got != f.aliceAcc.Balance {
		t.Fatalf("frozen balance changed: %d", got)
	}
	// Unfreeze, empty it, close it: closed refuses postings and reopening.
	wantStatus(t, s.Do("PATCH", f.host, acc, staff, map[string]string{"status": "active"}), 200, "")
	wantStatus(t, s.Do("PATCH", f.host, acc, staff, map[string]string{"status": "closed"}), 422, "Account balance must be zero to close it")
	wantStatus(t, post("withdrawal", f.aliceAcc.ID, 0, staff), 201, "")
	r = s.Do("POST", f.host, "/api/transactions", staff, map[string]any{"type": "withdrawal", "account_id": f.aliceAcc.ID, "amount": f.aliceAcc.Balance - 500})
	wantStatus(t, r, 201, "")
	wantStatus(t, s.Do("PATCH", f.host, acc, f.tokens[proxy.RoleAdmin], map[string]string{"status": "closed"}), 200, "")
	wantStatus(t, post("deposit", f.aliceAcc.ID, 0, staff), 422, "Account inactive")
	wantStatus(t, s.Do("PATCH", f.host, acc, staff, map[string]string{"status": "active"}), 422, "Account closed")
	wantStatus(t, s.Do("PATCH", f.host, acc, staff, map[string]string{"status": "frozen"}), 422, "Account closed")

	// Every change is in the audit trail, newest first.
	r = s.Do("GET", f.host, "/api/audit?action=account.status", f.tokens[proxy.RoleAdmin], nil)
	var page struct {
		Entries []struct {
			Action, TargetID string            `json:"-"`
			A                string            `json:"action"`
			T                string            `json:"target_id"`
			D                map[string]string `json:"details"`
			UserID           int64             `json:"user_id"`
		}
		NextCursor string `json:"next_cursor"`
	}
	r.JSON(t, &page)
	if len(page.Entries) != 3 || page.Entries[0].D["status"] != "active → closed" || page.Entries[0].UserID != f.admin.ID ||
		page.Entries[2].D["status"] != "active → frozen" || page.Entries[2].UserID != f.staff.ID || page.Entries[0].T != fmt.Sprint(f.aliceAcc.ID) {
		t.Fatalf("audit entries: %s", r.Body)
	}
}

// A weak password is refused by every door with the same message.
func TestWeakPasswordRefusedEverywhere(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "weak", "GH")
	platform := s.Token(0, proxy.RolePlatformAdmin, 0)
	reset := s.Do("POST", f.host, fmt.Sprintf("/api/users/%d/password-reset", f.bob.ID), f.tokens[proxy.RoleAdmin], nil)
	var rt struct{ Token string }
	reset.JSON(t, &rt)
	for _, c := range []struct {
		weak, msg string
	}{
		{"password", bank.PasswordTooShort}, {"aaaaaaaa", bank.PasswordTooShort}, {"12345678", bank.PasswordTooShort},
		{"password123", bank.PasswordTooCommon}, {"aaaaaaaaaa1", bank.PasswordTooCommon}, {"abcdefghijkl", bank.PasswordNeedsMix},
	} {
		doors := []struct {
			name  string
			r     proxytest.Response
			field string
		}{
			{"signup", s.Do("POST", proxytest.RootDomain, "/api/public/signup", "", map[string]string{
				"name": "Weak Bank", "country": "GH", "email": "owner@weak.example", "password": c.weak}), "password"},
			{"users", s.Do("POST", f.host, "/api/users", f.tokens[proxy.RoleAdmin], map[string]string{
				"email": "new@weak.example", "name": "New", "password": c.weak, "role": "staff"}), "password"},
			{"admin", s.Do("POST", "admin."+proxytest.RootDomain, "/api/admin/tenants", platform, map[string]string{
				"host": "weakling", "name": "Weakling", "country": "GH", "admin_email": "a@weakling.example", "admin_password": c.weak}), "admin_password"},
			{"change", s.Do("POST", f.host, "/api/auth/password", f.tokens[proxy.RoleCustomer], map[string]string{
				"current_password": fixturePassword, "new_password": c.weak}), "new_password"},
			{"reset", s.Do("POST", f.host, "/api/auth/reset", "", map[string]string{"token": rt.Token, "new_password": c.weak}), "new_password"},
		}
		for _, d := range doors {
			var body struct {
				Error  string
				Fields map[string]string
			}
			d.r.JSON(t, &body)
			if d.r.Status != 400 || body.Fields[d.field] != c.msg {
				t.Errorf("%s with %q: %d %s, want 400 with %s %q", d.name, c.weak, d.r.Status, d.r.Body, d.field, c.msg)
			}
		}
	}
	// The reset token survived the refusals and still works with a good password.
	wantStatus(t, s.Do("POST", f.host, "/api/auth/reset", "", map[string]string{"token": rt.Token, "new_password": "Good-enough-2030"}), 200, "")
}

// With a second factor required, a staff login without a code is refused,
// and a replayed code is refused.
func TestSecondFactor(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "totp", "GH")
	admin := f.login(t, s, f.admin.Email, fixturePassword)

	// The admin may not require it before having it.
	wantStatus(t, s.Do("PATCH", f.host, "/api/settings", admin, map[string]bool{"require_2fa": true}), 409, "Enable your own second factor first")
	secret := enrol(t, s, f, admin)
	wantStatus(t, s.Do("GET", f.host, "/api/me", admin, nil), 401, "Invalid token") // enabling revoked the old session
	now := time.Now()
	nextCode, _ := totp.GenerateCode(secret, now.Add(30*time.Second)) // the confirmation used the current step
	wantStatus(t, s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.admin.Email, "password": fixturePassword}), 401, "Second factor required")
	admin = f.login(t, s, f.admin.Email, fixturePassword, "code", nextCode)
	r := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.admin.Email, "password": fixturePassword, "code": nextCode})
	wantStatus(t, r, 401, "Invalid second factor code") // replayed
	wantStatus(t, s.Do("PATCH", f.host, "/api/settings", admin, map[string]bool{"require_2fa": true}), 200, "")

	// The teller has no factor yet: the login only gives an enrolment token.
	r = s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.staff.Email, "password": fixturePassword})
	wantStatus(t, r, 200, "")
	var lr struct {
		Token string
		Enrol bool `json:"second_factor_enrolment_required"`
	}
	r.JSON(t, &lr)
	if !lr.Enrol {
		t.Fatalf("login without enrolment: %s", r.Body)
	}
	wantStatus(t, s.Do("GET", f.host, "/api/accounts", lr.Token, nil), 403, "Second factor enrolment required")
	tellerSecret := enrol(t, s, f, lr.Token)
	wantStatus(t, s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.staff.Email, "password": fixturePassword}), 401, "Second factor required")
	wantStatus(t, s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.staff.Email, "password": fixturePassword, "code": "000000"}), 401, "Invalid second factor code")
	code, _ := totp.GenerateCode(tellerSecret, time.Now().Add(30*time.Second))
	teller := f.login(t, s, f.staff.Email, fixturePassword, "code", code)
	wantStatus(t, s.Do("GET", f.host, "/api/accounts", teller, nil), 200, "")
	// Customers are not asked.
	f.login(t, s, f.alice.Email, fixturePassword)

	// A recovery code works once.
	r = s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.staff.Email, "password": fixturePassword, "recovery_code": tellerRecovery})
	wantStatus(t, r, 200, "")
	wantStatus(t, s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": f.staff.Email, "password": fixturePassword, "recovery_code": tellerRecovery}), 401, "Invalid second factor code")

	// The trail has the failures and the successes, never a code or secret.
	r = s.Do("GET", f.host, fmt.Sprintf("/api/audit?user_id=%d&limit=100", f.staff.ID), admin, nil)
	body := string(r.Body)
	for _, want := range []string{`"auth.login_failed"`, `"second_factor"`, `"2fa.enable"`, `"2fa.recovery_code_used"`, `"auth.login"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit trail lacks %s: %s", want, body)
		}
	}
	for _, secretText := range []string{tellerSecret, code, tellerRecovery, fixturePassword} {
		if strings.Contains(body, secretText) {
			t.Errorf("audit trail contains a secret %q", secretText)
		}
	}
}

// tellerRecovery is set by enrol for the last user enrolled.
var tellerRecovery string

// enrol enrols and confirms a second factor with token and returns the secret.
func enrol(t *testing.T, s *proxytest.Server, f *bankFixture, token string) string {
	t.Helper()
	r := s.Do("POST", f.host, "/api/auth/2fa/enrol", token, nil)
	wantStatus(t, r, 200, "")
	var e bank.Enrolment
	r.JSON(t, &e)
	if !strings.HasPrefix(e.URI, "otpauth://totp/") || !strings.Contains(e.URI, "secret="+e.Secret) || len(e.QRCode) < 100 {
		t.Fatalf("enrolment: %+v", e)
	}
	code, err := totp.GenerateCode(e.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, s.Do("POST", f.host, "/api/auth/2fa/confirm", token, map[string]string{"code": "123"}), 401, "Invalid second factor code")
	r = s.Do("POST", f.host, "/api/auth/2fa/confirm", token, map[string]string{"code": code})
	wantStatus(t, r, 200, "")
	var c struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r.JSON(t, &c)
	if len(c.RecoveryCodes) != 10 {
		t.Fatalf("recovery codes: %s", r.Body)
	}
	tellerRecovery = c.RecoveryCodes[3]
	return e.Secret
}

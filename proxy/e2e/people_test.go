package e2e_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/shard/bank"
)

// TestBrowserPeople drives the people and access pages like an
// institution's administrator: disable and re-enable a teller, reset a
// customer's password and redeem the code on the sign-in page, freeze an
// account (and fail to close it with money in it), read the audit trail,
// change the password, turn on two-step sign-in and sign in with a code;
// then the platform audit view of the admin panel.
func TestBrowserPeople(t *testing.T) {
	srv, port := startServer(t)
	ctx := context.Background()
	tn := srv.CreateTenant("people")
	h, err := srv.Shards.Acquire(ctx, tn.ID, tn.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	st := bank.New(h.DB, tn.ID)
	const pw = "Accra-morning-2026"
	mk := func(email, name, role string) bank.User {
		u, err := st.CreateUser(ctx, bank.NewUser{Email: email, Name: name, Password: pw, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	admin := mk("head@people.example", "Akosua Head", bank.RoleAdmin)
	teller := mk("teller@people.example", "Kwame Teller", bank.RoleStaff)
	cust := mk("esi@people.example", "Esi Customer", bank.RoleCustomer)
	acc, err := st.CreateAccount(ctx, bank.NewAccount{UserID: cust.ID, Type: bank.AccountSavings, Currency: "GHS"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Post(ctx, bank.Posting{Type: bank.TypeDeposit, AccountID: acc.ID, Amount: 5000}, bank.PostOptions{ActorUserID: teller.ID}); err != nil {
		t.Fatal(err)
	}
	h.Release()
	host := "people." + rootDomain
	dash := "http://" + host + ":" + port + "/"
	b := newBrowser(t)

	signIn := func(t *testing.T, email, password string) {
		t.Helper()
		b.do(t, "sign in as "+email,
			chromedp.Navigate(dash),
			chromedp.WaitVisible(css(`#login-form`)),
			clear(`#login-email`), clear(`#login-password`),
			chromedp.SendKeys(css(`#login-email`), email),
			chromedp.SendKeys(css(`#login-password`), password),
			chromedp.Click(css(`#login-submit`)),
		)
	}
	signOut := func(t *testing.T) {
		t.Helper()
		b.do(t, "sign out", chromedp.Click(css(`#logout-button`)), chromedp.WaitVisible(css(`#login-form`)))
	}
	tellerRow := fmt.Sprintf(`//table[@id="people-table"]//tr[@data-user-id="%d"]`, teller.ID)
	custRow := fmt.Sprintf(`//table[@id="people-table"]//tr[@data-user-id="%d"]`, cust.ID)

	t.Run("People", func(t *testing.T) {
		signIn(t, admin.Email, pw)
		b.do(t, "disable the teller",
			chromedp.WaitVisible(xp(tellerRow)),
			chromedp.Click(xp(tellerRow+`//button[normalize-space()="Disable"]`)),
			chromedp.WaitVisible(xp(tellerRow+`//td[normalize-space()="disabled"]`)),
			chromedp.WaitVisible(css(`#people-status.notice-ok`)),
		)
		b.screenshot(t, "p01-teller-disabled")
		if r := srv.Do("POST", host, "/api/auth/login", "", map[string]string{"email": teller.Email, "password": pw}); r.Status != 403 {
			t.Errorf("disabled teller's login: %d %s", r.Status, r.Body)
		}
		b.do(t, "enable the teller and make her an admin",
			chromedp.Click(xp(tellerRow+`//button[normalize-space()="Enable"]`)),
			chromedp.WaitVisible(xp(tellerRow+`//td[normalize-space()="active"]`)),
			chromedp.SetValue(css(fmt.Sprintf(`#role-%d`, teller.ID)), "admin"),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`void document.querySelector('#role-%d').dispatchEvent(new Event('change'))`, teller.ID)),
			chromedp.WaitVisible(xp(`//div[@id="people-status"][contains(., "Kwame Teller: admin, active")]`)),
		)
		b.do(t, "issue a reset code for the customer",
			chromedp.Click(xp(custRow+`//button[normalize-space()="Reset password"]`)),
			chromedp.WaitVisible(xp(`//div[@id="people-status"][contains(., "One-time reset code")]`)),
		)
		text := get(t, b, "reset code", chromedp.Text(css(`#people-status`)))
		m := regexp.MustCompile(`: ([A-Za-z0-9_-]{40,})$`).FindStringSubmatch(strings.TrimSpace(text))
		if m == nil {
			t.Fatalf("no reset code in %q", text)
		}
		b.screenshot(t, "p02-reset-code")
		signOut(t)
		b.do(t, "redeem the reset code on the sign-in page",
			chromedp.SendKeys(css(`#reset-token`), m[1]),
			chromedp.SendKeys(css(`#reset-password`), "Esi-new-start-77"),
			chromedp.Click(css(`#reset-submit`)),
			chromedp.WaitVisible(css(`#reset-status.notice-ok`)),
		)
		signIn(t, cust.Email, "Esi-new-start-77")
		b.do(t, "the customer is in", chromedp.WaitVisible(css(`#accounts-table tbody tr`)), chromedp.WaitVisible(css(`#security-section`)))
		if hidden := get(t, b, "people hidden", chromedp.Evaluate[bool](`document.getElementById("people-section").hidden && document.getElementById("audit-section").hidden`)); !hidden {
			t.Error("a customer sees the people page or the audit trail")
		}
		signOut(t)
		b.pageErrors(t)
	})

	t.Run("Accounts", func(t *testing.T) {
		signIn(t, teller.Email, pw)
		b.do(t, "freeze the account",
			chromedp.WaitVisible(css(`#account-admin-section`)),
			chromedp.WaitReady(css(fmt.Sprintf(`#account-admin-account option[value="%d"]`, acc.ID))),
			chromedp.SetValue(css(`#account-admin-account`), fmt.Sprint(acc.ID)),
			chromedp.Click(css(`#account-freeze`)),
			chromedp.WaitVisible(xp(`//div[@id="account-admin-status"][contains(., "is now frozen")]`)),
		)
		tok := srv.Token(tn.ID, proxy.RoleStaff, teller.ID)
		if r := srv.Do("POST", host, "/api/transactions", tok, map[string]any{"type": "deposit", "account_id": acc.ID, "amount": 100}); r.Status != 422 || r.Error() != "Account inactive" {
			t.Errorf("deposit to a frozen account: %d %s", r.Status, r.Body)
		}
		b.do(t, "closing with money in it is refused",
			chromedp.Click(css(`#account-unfreeze`)),
			chromedp.WaitVisible(xp(`//div[@id="account-admin-status"][contains(., "is now active")]`)),
			chromedp.Click(css(`#account-close`)),
			chromedp.WaitVisible(xp(`//div[@id="account-admin-status"][contains(., "balance must be zero")]`)),
		)
		b.screenshot(t, "p03-account-status")
		signOut(t)
		b.pageErrors(t)
	})

	var secret string
	t.Run("AuditPasswordTwoFactor", func(t *testing.T) {
		signIn(t, admin.Email, pw)
		b.do(t, "read the audit trail",
			chromedp.WaitVisible(css(`#audit-section`)),
			chromedp.WaitVisible(xp(`//table[@id="audit-table"]//td[normalize-space()="account.status"]`)),
			chromedp.WaitVisible(xp(`//table[@id="audit-table"]//td[normalize-space()="user.update"]`)),
			chromedp.SetValue(css(`#audit-action`), "auth.login"),
			chromedp.Evaluate[chromedp.Void](`void document.querySelector('#audit-action').dispatchEvent(new Event('change'))`),
			chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#audit-table tbody tr td:nth-child(3)')].every(td => td.textContent === "auth.login")`),
		)
		b.screenshot(t, "p04-audit")
		old := get(t, b, "token", chromedp.Evaluate[string](`sessionStorage.getItem("microfi.token")`))
		b.do(t, "change the password",
			chromedp.SendKeys(css(`#password-current`), pw),
			chromedp.SendKeys(css(`#password-new`), "Akosua-changed-2027"),
			chromedp.Click(css(`#password-submit`)),
			chromedp.WaitVisible(css(`#password-status.notice-ok`)),
		)
		if r := srv.Do("GET", host, "/api/me", old, nil); r.Status != 401 {
			t.Errorf("the token from before the change still works: %d", r.Status)
		}
		b.do(t, "start two-step enrolment",
			chromedp.WaitVisible(xp(`//button[normalize-space()="Set up two-step sign-in"]`)),
			chromedp.Click(xp(`//button[normalize-space()="Set up two-step sign-in"]`)),
			chromedp.WaitVisible(css(`#twofactor-slot-qr`)),
		)
		secret = get(t, b, "secret", chromedp.Text(css(`#twofactor-slot-secret`)))
		loaded := get(t, b, "qr loaded", chromedp.Evaluate[bool](`document.getElementById("twofactor-slot-qr").naturalWidth > 100`))
		if !loaded {
			t.Error("the QR code image did not load")
		}
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b.do(t, "confirm with a code",
			chromedp.SendKeys(css(`#twofactor-slot-code`), code),
			chromedp.Click(css(`#twofactor-slot-confirm`)),
			chromedp.WaitVisible(css(`#twofactor-slot-recovery li`)),
		)
		n := get(t, b, "recovery codes", chromedp.Evaluate[int](`document.querySelectorAll('#twofactor-slot-recovery li').length`))
		b.screenshot(t, "p05-recovery-codes")
		if n != 10 {
			t.Errorf("%d recovery codes shown", n)
		}
		b.do(t, "require it for staff",
			chromedp.Click(xp(`//button[normalize-space()="I have saved them"]`)),
			chromedp.WaitVisible(css(`#require-2fa-box`)),
			chromedp.Click(css(`#require-2fa`)),
			chromedp.WaitVisible(css(`#settings-status.notice-ok`)),
		)
		signOut(t)
		signIn(t, admin.Email, "Akosua-changed-2027")
		// The confirmation used the current time step; the next one is fresh.
		next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		b.do(t, "sign in with a code",
			chromedp.WaitVisible(css(`#login-code`)),
			chromedp.SendKeys(css(`#login-code`), next),
			chromedp.Click(css(`#login-submit`)),
			chromedp.WaitVisible(css(`#audit-section`)),
		)
		signOut(t)
		b.pageErrors(t)
	})

	t.Run("RequiredEnrolment", func(t *testing.T) {
		// The teller (an admin now, without a factor) must enrol first.
		signIn(t, teller.Email, pw)
		b.do(t, "enrolment only",
			chromedp.WaitVisible(css(`#enrol-section`)),
			chromedp.Click(xp(`//section[@id="enrol-section"]//button[normalize-space()="Set up two-step sign-in"]`)),
			chromedp.WaitVisible(css(`#enrol-slot-qr`)),
		)
		if visible := get(t, b, "app hidden", chromedp.Evaluate[bool](`!document.getElementById("app-section").hidden`)); visible {
			t.Error("the dashboard shows before enrolment")
		}
		s := get(t, b, "secret", chromedp.Text(css(`#enrol-slot-secret`)))
		code, _ := totp.GenerateCode(s, time.Now())
		b.do(t, "enrol and continue",
			chromedp.SendKeys(css(`#enrol-slot-code`), code),
			chromedp.Click(css(`#enrol-slot-confirm`)),
			chromedp.WaitVisible(css(`#enrol-slot-recovery li`)),
			chromedp.Click(xp(`//button[normalize-space()="I have saved them"]`)),
			chromedp.WaitVisible(css(`#accounts-table tbody tr`)),
			chromedp.WaitVisible(css(`#people-section`)),
		)
		b.screenshot(t, "p06-enrolled")
		signOut(t)
		b.pageErrors(t)
	})

	t.Run("PlatformAudit", func(t *testing.T) {
		tok := srv.Token(0, proxy.RolePlatformAdmin, 0)
		adminHost := "admin." + rootDomain
		if r := srv.Do("POST", adminHost, fmt.Sprintf("/api/admin/tenants/%d/revoke-tokens", tn.ID), tok, nil); r.Status != 200 {
			t.Fatalf("revoke tokens: %d %s", r.Status, r.Body)
		}
		b.do(t, "open the platform audit trail",
			chromedp.Navigate("http://"+adminHost+":"+port+"/"),
			chromedp.WaitVisible(css(`#token-form`)),
			chromedp.SendKeys(css(`#token-input`), tok),
			chromedp.Click(css(`#token-form button[type="submit"]`)),
			chromedp.WaitVisible(xp(`//table[@id="platform-audit-table"]//td[normalize-space()="tokens.revoke"]`)),
		)
		b.do(t, "suspend a tenant and see it in the trail",
			chromedp.Click(xp(`//tr[td[normalize-space()="people"]]//button[normalize-space()="Suspend"]`)),
			chromedp.WaitVisible(xp(`//tr[td[normalize-space()="people"]]//span[normalize-space()="suspended"]`)),
			chromedp.Click(css(`#platform-audit-refresh`)),
			chromedp.WaitVisible(xp(`//table[@id="platform-audit-table"]//td[normalize-space()="tenant.suspend"]`)),
		)
		b.screenshot(t, "p07-platform-audit")
		b.pageErrors(t)
	})
}

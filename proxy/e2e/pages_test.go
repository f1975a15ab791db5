package e2e_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
)

// TestBrowserPages: the page details of issue 17 in a real Chromium, each
// with a screenshot: a zero-decimal currency, a customer's own view and
// transfer, the header before sign-in, spacing and phone layout, the admin
// panel's errors, search box and conversion figures, a demo's signup link,
// and error pages instead of raw JSON.
func TestBrowserPages(t *testing.T) {
	srv, port := startServer(t)
	b := newBrowser(t)
	origin := func(label string) string {
		if label == "" {
			return "http://" + rootDomain + ":" + port
		}
		return "http://" + label + "." + rootDomain + ":" + port
	}
	host := func(label string) string { return label + "." + rootDomain }

	// A Ugandan institution: UGX has no minor unit.
	ug := srv.CreateTenant("kampala", "UG")
	admin := srv.Token(ug.ID, proxy.RoleAdmin, 0)
	r := srv.Do("POST", host("kampala"), "/api/users", admin, map[string]string{
		"name": "Nakato Sarah", "email": "nakato@kampala.example", "password": "Nakato-pw-2026", "role": "customer"})
	if r.Status != 201 {
		t.Fatalf("create customer: %d %s", r.Status, r.Body)
	}
	var u struct{ User struct{ ID int64 } }
	json.Unmarshal(r.Body, &u)
	var accountIDs []int64
	for _, typ := range []string{"savings", "current"} {
		r := srv.Do("POST", host("kampala"), "/api/accounts", admin, map[string]any{"user_id": u.User.ID, "type": typ})
		if r.Status != 201 {
			t.Fatalf("open account: %d %s", r.Status, r.Body)
		}
		var a struct{ Account struct{ ID int64 } }
		json.Unmarshal(r.Body, &a)
		accountIDs = append(accountIDs, a.Account.ID)
	}
	if r := srv.Do("POST", host("kampala"), "/api/transactions", admin, map[string]any{"type": "deposit", "account_id": accountIDs[0], "amount": 50000}); r.Status != 201 {
		t.Fatalf("deposit: %d %s", r.Status, r.Body)
	}

	t.Run("CustomerUGX", func(t *testing.T) {
		b.do(t, "open the setup page before signing in",
			chromedp.Navigate(origin("kampala")+"/setup"),
			chromedp.WaitVisible(css(`#login-form`)),
			chromedp.Poll[chromedp.Void](`document.getElementById("tenant-name").textContent === "Tenant kampala"`),
		)
		gap := get(t, b, "welcome spacing", chromedp.Evaluate[float64](
			`document.querySelector("#login-section .card").getBoundingClientRect().top - document.getElementById("welcome").getBoundingClientRect().bottom`))
		b.screenshot(t, "10-header-before-sign-in")
		if gap < 8 {
			t.Errorf("welcome box and sign-in card are %.0f px apart, want a gap", gap)
		}
		b.do(t, "sign in as the customer",
			chromedp.SendKeys(css(`#login-email`), "nakato@kampala.example"),
			chromedp.SendKeys(css(`#login-password`), "Nakato-pw-2026"),
			chromedp.Click(css(`#login-submit`)),
			chromedp.WaitVisible(css(`#accounts-table tbody tr`)),
			chromedp.WaitVisible(css(`#transfer-form`)),
		)
		owners := get(t, b, "owner column", chromedp.Evaluate[string](
			`[...document.querySelectorAll("#accounts-table tbody tr td:nth-child(2)")].map(td => td.textContent).join("|")`))
		if owners != "Nakato Sarah|Nakato Sarah" {
			t.Errorf("owner column %q, want her own name twice", owners)
		}
		hint := get(t, b, "hint", chromedp.Text(css(`#transfer-amount-hint`)))
		placeholder := get(t, b, "placeholder", chromedp.Evaluate[string](`document.getElementById("transfer-amount").placeholder`))
		if hint != "In UGX, e.g. 250" || placeholder != "100" {
			t.Errorf("UGX hint %q, placeholder %q", hint, placeholder)
		}
		toAccount := strconv.FormatInt(accountIDs[1], 10)
		b.do(t, "a decimal amount in UGX is refused with the right hint",
			chromedp.SendKeys(css(`#transfer-to`), toAccount),
			chromedp.SendKeys(css(`#transfer-amount`), "12.5"),
			chromedp.Click(css(`#transfer-submit`)),
			chromedp.WaitVisible(css(`#transfer-status.notice-error`)),
		)
		msg := get(t, b, "transfer error", chromedp.Text(css(`#transfer-status`)))
		if !strings.Contains(msg, "whole amount") || strings.Contains(msg, "250.50") {
			t.Errorf("UGX amount error %q", msg)
		}
		b.do(t, "send money to her other account",
			clear(`#transfer-amount`),
			chromedp.SendKeys(css(`#transfer-amount`), "12,000"),
			chromedp.Click(css(`#transfer-submit`)),
			chromedp.WaitVisible(css(`#transfer-status.notice-ok`)),
			chromedp.WaitVisible(xp(`//table[@id="accounts-table"]//td[normalize-space()="UGX 12,000"]`)),
		)
		b.screenshot(t, "11-customer-transfer-ugx")
		if got := get(t, b, "status", chromedp.Text(css(`#transfer-status`))); !strings.Contains(got, "UGX 12,000") {
			t.Errorf("transfer status %q", got)
		}
		b.pageErrors(t)
	})

	t.Run("DemoSignupAndAdmin", func(t *testing.T) {
		r := srv.Do("POST", rootDomain, "/api/public/demo", "", nil)
		var demo struct{ Host string }
		if err := json.Unmarshal(r.Body, &demo); err != nil || r.Status != 201 {
			t.Fatalf("demo: %d %s", r.Status, r.Body)
		}
		b.do(t, "the demo offers a signup",
			chromedp.Navigate(origin(demo.Host)+"/"),
			chromedp.WaitVisible(css(`#demo-signup`)),
			chromedp.Click(css(`#demo-signup`)),
			chromedp.WaitVisible(css(`#signup-form`)),
			chromedp.WaitReady(css(`#signup-country option[value="KE"]`)),
		)
		if loc := get(t, b, "location", chromedp.Location()); !strings.Contains(loc, "from_demo="+demo.Host) {
			t.Fatalf("signup page %q does not carry the demo", loc)
		}
		b.do(t, "sign up from the demo",
			chromedp.SendKeys(css(`#signup-name`), "Nairobi Women Savings"),
			chromedp.SetValue(css(`#signup-country`), "KE"),
			chromedp.SendKeys(css(`#signup-email`), "chair@nairobi.example"),
			chromedp.SendKeys(css(`#signup-password`), "Harambee-2026-pw"),
			chromedp.Click(css(`#signup-submit`)),
			chromedp.WaitVisible(css(`#app-section`)),
		)
		tn, err := srv.Catalog.FindByHost(t.Context(), "nairobi-women-savings")
		if err != nil {
			t.Fatal(err)
		}
		if from, err := srv.Catalog.FromDemo(t.Context(), tn.ID); err != nil || from != demo.Host {
			t.Errorf("signup attributed to %q (%v), want %q", from, err, demo.Host)
		}

		tok := srv.Token(0, proxy.RolePlatformAdmin, 0)
		b.do(t, "admin panel: conversion, then a failing create",
			chromedp.Navigate(origin("admin")+"/"),
			chromedp.WaitVisible(css(`#token-form`)),
			chromedp.SendKeys(css(`#token-input`), tok),
			chromedp.Click(css(`#token-form button[type="submit"]`)),
			chromedp.WaitVisible(css(`#conversion-stats .stat[data-days="7"]`)),
			// The tenant list renders above the create form: a click computed
			// before it lands would hit whatever the rows push under it.
			chromedp.WaitVisible(css(fmt.Sprintf(`#tenants-table tbody tr[data-tenant-id="%d"]`, tn.ID))),
		)
		conv := get(t, b, "conversion", chromedp.Text(css(`#conversion-stats .stat[data-days="7"]`)))
		if !strings.Contains(conv, "100.0%") || !strings.Contains(conv, "1 of 1 demos") {
			t.Errorf("7-day conversion shows %q", conv)
		}
		fits := get(t, b, "search placeholder", chromedp.Evaluate[bool](`(() => {
			const el = document.getElementById("search-input"), cs = getComputedStyle(el);
			const ctx = document.createElement("canvas").getContext("2d");
			ctx.font = cs.fontSize + " " + cs.fontFamily;
			const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
			return ctx.measureText(el.placeholder).width <= room;
		})()`))
		if !fits {
			t.Errorf("the search placeholder is cut off")
		}
		b.do(t, "create a tenant with a bad country",
			chromedp.SendKeys(css(`#create-host`), "bad-country"),
			chromedp.SendKeys(css(`#create-name`), "Bad Country Coop"),
			chromedp.SendKeys(css(`#create-country`), "ZZ"),
			chromedp.Click(xp(`//button[normalize-space()="Create tenant"]`)),
			chromedp.WaitVisible(css(`#create-status.notice-error`)),
		)
		visible := get(t, b, "error in view", chromedp.Evaluate[bool](`(() => {
			const r = document.getElementById("create-status").getBoundingClientRect();
			return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
		})()`))
		b.screenshot(t, "12-admin-conversion-and-create-error")
		if !visible {
			t.Errorf("the create form's error is off-screen")
		}
		b.pageErrors(t)
	})

	t.Run("ErrorPages", func(t *testing.T) {
		closed := srv.CreateTenant("closed")
		suspended := catalog.StatusSuspended
		if _, err := srv.Catalog.Update(t.Context(), closed.ID, catalog.Update{Status: &suspended}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ label, title, link, shot string }{
			{"closed", "Platform suspended", "Go to the MicroFi website", "13-suspended-page"},
			{"nobody-here", "No institution here", "Go to the MicroFi website", "14-unknown-host-page"},
		} {
			b.do(t, "open "+tc.label,
				chromedp.Navigate(origin(tc.label)+"/"),
				chromedp.WaitVisible(css(`main h1`)),
			)
			if h1 := get(t, b, "title", chromedp.Text(css(`main h1`))); h1 != tc.title {
				t.Errorf("%s: page title %q, want %q", tc.label, h1, tc.title)
			}
			link := get(t, b, "link", chromedp.Text(css(`main a`)))
			href := get(t, b, "href", chromedp.Evaluate[string](`document.querySelector("main a").href`))
			b.screenshot(t, tc.shot)
			if link != tc.link || !strings.HasPrefix(href, origin("")+"/") {
				t.Errorf("%s: link %q to %q", tc.label, link, href)
			}
		}
	})

	t.Run("Phone", func(t *testing.T) {
		b.do(t, "customer view on a phone",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
			chromedp.Navigate(origin("kampala")+"/"),
			chromedp.WaitVisible(css(`#accounts-table tbody tr`)),
		)
		right := get(t, b, "balance column", chromedp.Evaluate[float64](`document.querySelector("#accounts-table tbody tr td.num").getBoundingClientRect().right`))
		b.screenshot(t, "15-customer-phone")
		if right > 390 {
			t.Errorf("the balance column ends at %.0f px, off a 390 px screen", right)
		}
		b.pageErrors(t)
	})
}

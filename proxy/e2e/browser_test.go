// Package e2e drives the public site, a demo tenant's dashboard, self-service
// signup and the admin panel in a real headless Chromium against a real
// proxy on loopback (real catalog, real tenant database files).
package e2e_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// rootDomain is the root domain the browser sees: browsers send *.localhost
// to loopback, and --host-resolver-rules makes sure of it.
const rootDomain = "microfi.localhost"

// chromium finds the browser: $TENANTGATE_CHROMIUM, else Debian's
// chromium (installed by `make test-deps`), else a few usual names.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TENANTGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: run `make test-deps` (apt-get install -y chromium)")
	}
	t.Skip("chromium not found; install it with `apt-get install -y chromium` (make test-deps)")
	return ""
}

// artifactDir is where screenshots go: $TENANTGATE_ARTIFACTS/browser, else
// a fresh temp directory that outlives the test (its path is logged).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TENANTGATE_ARTIFACTS")
	var err error
	if dir != "" {
		dir = filepath.Join(dir, "browser")
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp("", "tenantgate-browser-")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browser is one headless Chromium with one tab, recording page errors.
type browser struct {
	ctx   context.Context
	shots string
	mu    sync.Mutex
	errs  []string
	net   []string // the latest network log lines, for a failure's report
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("host-resolver-rules", "MAP *."+rootDomain+" 127.0.0.1, MAP "+rootDomain+" 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// The browser lives as long as the context of its first use: no
	// timeout on that one (each step gets its own in run).
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{ctx: ctx, shots: artifactDir(t)}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.record(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.record("console.error: " + strings.Join(parts, " "))
			}
		case *page.EventJavascriptDialogOpening:
			// No step expects a dialog: one would block the page until the
			// step times out. Dismiss it and report it instead.
			b.record("unexpected dialog: " + e.Message)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		case *cdplog.EventEntryAdded:
			// Network failures include the API's deliberate 4xx answers;
			// anything else at error level (CSP violations, blocked
			// resources) is a defect of the page.
			if e.Entry.Source == cdplog.EntrySourceNetwork {
				b.noteNetwork(fmt.Sprintf("%s %s", e.Entry.Text, e.Entry.URL))
			} else if e.Entry.Level == cdplog.EntryLevelError {
				b.record(fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to page events: %v", err)
	}
	return b
}

// noteNetwork keeps the last few network log lines (failed requests and
// the API's 4xx answers), which a failed step reports.
func (b *browser) noteNetwork(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.net = append(b.net, msg)
	if len(b.net) > 10 {
		b.net = b.net[1:]
	}
}

func (b *browser) record(msg string) {
	b.mu.Lock()
	b.errs = append(b.errs, msg)
	b.mu.Unlock()
}

// step bounds one browser step.
const step = 45 * time.Second

// do runs actions, failing the test (with a screenshot) on error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(t, what, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(t, what, err)
	}
	return v
}

func (b *browser) fail(t *testing.T, what string, err error) {
	t.Helper()
	b.screenshot(t, "failed-"+strings.ReplaceAll(what, " ", "-"))
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	// What the page said, for a failure on a machine whose screenshots are
	// out of reach (CI): status boxes carry the API's answers.
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.body ? document.body.innerText : "").slice(0, 1500)`))
	t.Logf("page text: %q", text)
	b.mu.Lock()
	for _, e := range b.errs {
		t.Logf("page error: %s", e)
	}
	for _, n := range b.net {
		t.Logf("network: %s", n)
	}
	b.mu.Unlock()
	t.Fatalf("%s (at %s): %v", what, loc, err)
}

// screenshot saves a full-page PNG named name.png in the artifact dir.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 = PNG; less is JPEG
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("save %s: %v", path, err)
	}
}

// pageErrors fails the test on any uncaught exception, console error or
// non-network error-level log entry since the last call.
func (b *browser) pageErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		t.Errorf("page error: %s", e)
	}
	b.errs = nil
}

func startServer(t *testing.T) (*proxytest.Server, string) {
	t.Helper()
	srv := proxytest.Start(t, proxytest.Options{Heartbeat: 200 * time.Millisecond, Configure: func(c *proxy.Config) {
		c.RootDomain = rootDomain
		c.DemoLimit = proxy.RateLimit{Burst: 100, Every: time.Second}
		c.SignupLimit = proxy.RateLimit{Burst: 100, Every: time.Second}
	}})
	_, port, _ := net.SplitHostPort(srv.Addr)
	return srv, port
}

// clear empties a form field (as selecting its text and deleting it would).
func clear(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`void (document.querySelector(` + strconv.Quote(selector) + `).value = "")`)
}

// css and xp name selectors: a CSS query (first match) and an XPath search.
type css = chromedp.CSS

func xp(q string) chromedp.Search { return chromedp.Search(q) }

func TestBrowser(t *testing.T) {
	srv, port := startServer(t)
	b := newBrowser(t)
	home := "http://" + rootDomain + ":" + port + "/"

	t.Run("Demo", func(t *testing.T) {
		b.do(t, "open home page",
			chromedp.Navigate(home),
			chromedp.WaitVisible(css(`#demo-button`)),
			chromedp.WaitReady(css(`#signup-country option[value="GH"]`)),
		)
		b.screenshot(t, "01-home")
		b.do(t, "create demo",
			chromedp.Click(xp(`//button[normalize-space()="Try Free Demo"]`)),
			chromedp.WaitVisible(css(`#demo-result`)),
		)
		email := get(t, b, "read e-mail", chromedp.Text(css(`#demo-email`)))
		password := get(t, b, "read password", chromedp.Text(css(`#demo-password`)))
		url := get(t, b, "read url", chromedp.Text(css(`#demo-url`)))
		b.screenshot(t, "02-demo-created")
		if !strings.HasPrefix(url, "http://demo-") || !strings.HasSuffix(url, "."+rootDomain+":"+port) {
			t.Fatalf("demo url %q", url)
		}
		if email == "" || password == "" {
			t.Fatalf("demo credentials not shown: %q / %q", email, password)
		}

		b.do(t, "follow to the demo dashboard",
			chromedp.Click(css(`#demo-open`)),
			chromedp.WaitVisible(css(`#login-form`)),
		)
		loc := get(t, b, "location", chromedp.Location())
		if !strings.HasPrefix(loc, url+"/") {
			t.Fatalf("landed on %q, want the demo at %q", loc, url)
		}
		if strings.Contains(loc, "password") {
			t.Errorf("password left in the address bar: %q", loc)
		}

		b.do(t, "log in with the returned credentials",
			clear(`#login-email`),
			clear(`#login-password`),
			chromedp.SendKeys(css(`#login-email`), email),
			chromedp.SendKeys(css(`#login-password`), password),
			chromedp.Click(css(`#login-submit`)),
			chromedp.WaitVisible(css(`#accounts-table tbody tr`)),
			chromedp.WaitVisible(css(`#tx-table tbody tr`)),
		)
		rows := get(t, b, "count accounts", chromedp.Evaluate[int](`document.querySelectorAll('#accounts-table tbody tr').length`))
		label := get(t, b, "user label", chromedp.Text(css(`#user-label`)))
		b.screenshot(t, "03-demo-dashboard")
		if rows < 3 {
			t.Errorf("%d seeded accounts shown, want at least 3", rows)
		}
		if !strings.Contains(label, email) || !strings.Contains(label, "admin") {
			t.Errorf("user label %q", label)
		}

		// The deposit goes to the first account in the picker: the first row.
		balanceJS := `document.querySelector('#accounts-table tbody tr td.num').textContent`
		before := get(t, b, "balance before", chromedp.Evaluate[string](balanceJS))
		b.do(t, "post a deposit",
			chromedp.WaitVisible(css(`#deposit-form`)),
			chromedp.SendKeys(css(`#deposit-amount`), "125.50"),
			chromedp.SendKeys(css(`#deposit-description`), "Browser test deposit"),
			chromedp.Click(css(`#deposit-submit`)),
			chromedp.WaitVisible(css(`#deposit-status.notice-ok`)),
			chromedp.WaitVisible(xp(`//table[@id="tx-table"]//td[normalize-space()="Browser test deposit"]`)),
		)
		status := get(t, b, "deposit status", chromedp.Text(css(`#deposit-status`)))
		after := get(t, b, "balance after", chromedp.Evaluate[string](balanceJS))
		if minor(t, after)-minor(t, before) != 12550 {
			t.Errorf("first account's balance went from %q to %q, want +125.50", before, after)
		}
		b.screenshot(t, "04-demo-deposit")
		if !strings.Contains(status, "125.50") {
			t.Errorf("deposit status %q", status)
		}
		b.pageErrors(t)
	})

	t.Run("Signup", func(t *testing.T) {
		const email = "founder@tamale.example"
		const password = "Harvest-season-2026"
		b.do(t, "fill the signup form",
			chromedp.Navigate(home),
			chromedp.WaitReady(css(`#signup-country option[value="GH"]`)),
			chromedp.Click(xp(`//a[normalize-space()="Start Your Platform"]`)),
			chromedp.WaitVisible(css(`#signup-form`)),
			// The page moves focus to the name field a moment after the
			// click; typing before that lands keys in the wrong field.
			chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "signup-name"`),
			chromedp.SendKeys(css(`#signup-name`), "Tamale Savings Cooperative"),
			chromedp.SetValue(css(`#signup-country`), "GH"),
			chromedp.SendKeys(css(`#signup-email`), email),
			chromedp.SendKeys(css(`#signup-password`), password),
			// A reserved subdomain first: the server's field error shows.
			chromedp.SendKeys(css(`#signup-subdomain`), "admin"),
			chromedp.Click(css(`#signup-submit`)),
			chromedp.WaitVisible(css(`#signup-errors`)),
		)
		fieldErr := get(t, b, "subdomain error", chromedp.Text(css(`#signup-subdomain-error`)))
		b.screenshot(t, "05-signup-error")
		if !strings.Contains(fieldErr, "reserved") {
			t.Errorf("subdomain error %q, want it to say reserved", fieldErr)
		}

		b.do(t, "sign up and land on the new tenant, signed in",
			clear(`#signup-subdomain`),
			chromedp.Click(css(`#signup-submit`)),
			chromedp.WaitVisible(css(`#welcome`)),
			chromedp.WaitVisible(css(`#app-section`)),
			chromedp.WaitVisible(css(`#accounts-empty`)),
		)
		loc := get(t, b, "location", chromedp.Location())
		loginShown := get(t, b, "login form", chromedp.Evaluate[bool](`!document.getElementById("login-section").hidden`))
		b.screenshot(t, "06-signup-landed")
		if want := "http://tamale-savings-cooperative." + rootDomain + ":" + port + "/setup"; loc != want {
			t.Errorf("landed on %q, want %q (no token left in the address bar)", loc, want)
		}
		if loginShown {
			t.Errorf("the signup's token was not used: the password is asked for again")
		}
		// The header names the institution, not the host.
		label := get(t, b, "user label", chromedp.Text(css(`#user-label`)))
		if !strings.Contains(label, email) || !strings.Contains(label, "admin") {
			t.Errorf("user label %q, want the signup e-mail as admin", label)
		}
		if name := get(t, b, "header", chromedp.Text(css(`#tenant-name`))); name != "Tamale Savings Cooperative" {
			t.Errorf("header shows %q", name)
		}

		// The new institution is usable at once: add a customer, open an
		// account for her and take her first deposit.
		b.do(t, "add a customer, open an account, deposit",
			chromedp.SendKeys(css(`#user-name`), "Abena Owusu"),
			chromedp.SendKeys(css(`#user-email`), "abena@tamale.example"),
			chromedp.SendKeys(css(`#user-password`), "Abena-first-pw-1"),
			chromedp.Click(css(`#user-submit`)),
			chromedp.WaitVisible(css(`#user-status.notice-ok`)),
			chromedp.Click(css(`#account-submit`)),
			chromedp.WaitVisible(css(`#account-status.notice-ok`)),
			chromedp.WaitVisible(xp(`//table[@id="accounts-table"]//td[normalize-space()="Abena Owusu"]`)),
			chromedp.WaitVisible(css(`#deposit-form`)),
			chromedp.SendKeys(css(`#deposit-amount`), "50"),
			chromedp.Click(css(`#deposit-submit`)),
			chromedp.WaitVisible(css(`#deposit-status.notice-ok`)),
			chromedp.WaitVisible(xp(`//table[@id="accounts-table"]//td[normalize-space()="GHS 50.00"]`)),
		)
		b.screenshot(t, "07-new-tenant-dashboard")
		b.pageErrors(t)
	})

	t.Run("Admin", func(t *testing.T) {
		tok := srv.Token(0, proxy.RolePlatformAdmin, 0)
		b.do(t, "open the admin panel",
			chromedp.Navigate("http://admin."+rootDomain+":"+port+"/"),
			chromedp.WaitVisible(css(`#token-form`)),
			chromedp.SendKeys(css(`#token-input`), tok),
			chromedp.Click(css(`#token-form button[type="submit"]`)),
			chromedp.WaitVisible(xp(`//table[@id="tenants-table"]//td[normalize-space()="tamale-savings-cooperative"]`)),
		)
		rows := get(t, b, "count tenants", chromedp.Evaluate[int](`document.querySelectorAll('#tenants-table tbody tr').length`))
		if rows < 2 {
			t.Errorf("%d tenants listed, want the demo and the signup", rows)
		}
		row := `//tr[td[normalize-space()="tamale-savings-cooperative"]]`
		b.do(t, "suspend from the panel",
			chromedp.Click(xp(row+`//button[normalize-space()="Suspend"]`)),
			chromedp.WaitVisible(xp(row+`//span[normalize-space()="suspended"]`)),
		)
		b.do(t, "create a tenant from the panel",
			chromedp.SendKeys(css(`#create-host`), "bolga-credit"),
			chromedp.SendKeys(css(`#create-name`), "Bolgatanga Credit Union"),
			chromedp.SendKeys(css(`#create-country`), "gh"),
			chromedp.SendKeys(css(`#create-admin-email`), "head@bolga.example"),
			chromedp.SendKeys(css(`#create-admin-password`), "Bolga-first-pw-1"),
			chromedp.Click(xp(`//button[normalize-space()="Create tenant"]`)),
			chromedp.WaitVisible(xp(`//table[@id="tenants-table"]//a[normalize-space()="bolga-credit"]`)),
		)
		b.do(t, "see this proxy in the fleet section",
			chromedp.WaitVisible(xp(`//table[@id="fleet-table"]//tr[@data-state="serving"]/td[normalize-space()="`+srv.Addr+` (this one)"]`)),
		)
		b.screenshot(t, "08-admin-panel")
		if r := srv.Do("POST", "bolga-credit."+rootDomain, "/api/auth/login", "", map[string]string{"email": "head@bolga.example", "password": "Bolga-first-pw-1"}); r.Status != 200 {
			t.Errorf("the panel-created tenant's admin cannot log in: %d %s", r.Status, r.Body)
		}
		r := srv.Do("GET", "tamale-savings-cooperative."+rootDomain, "/", "", nil)
		if r.Status != 403 || r.Error() != "Tenant suspended" {
			t.Errorf("after suspending in the panel: %d %q", r.Status, r.Error())
		}
		b.pageErrors(t)
	})

	t.Run("Keyboard", func(t *testing.T) {
		active := `document.activeElement.id || document.activeElement.textContent.trim()`
		b.do(t, "open home page", chromedp.Navigate(home), chromedp.WaitVisible(css(`#demo-button`)))
		b.do(t, "first tab", chromedp.KeyEvent("\t"))
		if got := get(t, b, "focused", chromedp.Evaluate[string](active)); got != "Skip to content" {
			t.Errorf("first Tab focuses %q, want the skip link", got)
		}
		// Tab on to the demo button and press Enter: no mouse needed, and
		// focus moves to the result so a screen reader announces it.
		reached := false
		for range 10 {
			b.do(t, "tab", chromedp.KeyEvent("\t"))
			if get(t, b, "focused", chromedp.Evaluate[string](active)) == "demo-button" {
				reached = true
				break
			}
		}
		if !reached {
			t.Fatal("the demo button is not reachable with Tab")
		}
		b.do(t, "press Enter", chromedp.KeyEvent("\r"), chromedp.WaitVisible(css(`#demo-result`)))
		if got := get(t, b, "focused", chromedp.Evaluate[string](`document.activeElement.id`)); got != "demo-result" {
			t.Errorf("focus after creating a demo is on %q, want the result", got)
		}
		b.pageErrors(t)
	})

	t.Run("Mobile", func(t *testing.T) {
		b.do(t, "home page on a phone",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
			chromedp.Navigate(home),
			chromedp.WaitVisible(css(`#demo-button`)),
		)
		overflow := get(t, b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		b.screenshot(t, "09-home-mobile")
		if overflow {
			t.Errorf("the home page scrolls sideways at 390 px")
		}
		b.pageErrors(t)
	})
}

// minor parses a displayed amount such as "GHS 1,691.74" into minor units.
func minor(t *testing.T, shown string) int64 {
	t.Helper()
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, shown)
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", shown, err)
	}
	return n
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
)

// fleetProc is one `tenantgate serve` process of the fleet test.
type fleetProc struct {
	id   string
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
}

const fleetSecret = "fleet-test-secret-0123456789abcdef0123"

// startFleetProc starts a real proxy process on dir's catalog.
func startFleetProc(t *testing.T, bin, dir, id string, extra ...string) *fleetProc {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--seed-demo=false", "--jwt-secret", fleetSecret, "--proxy-id", id, "--heartbeat-interval", "300ms",
		"--reap-interval", "0", "--ledger-audit-rate", "-1"}, extra...)
	p := &fleetProc{id: id, cmd: exec.Command(bin, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

// waitLive waits until the registry lists exactly want live proxies and
// fills in their addresses.
func waitLive(t *testing.T, cat *catalog.Catalog, procs []*fleetProc, want int, within time.Duration) []registry.Proxy {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		all, err := registry.List(context.Background(), cat)
		if err != nil {
			t.Fatal(err)
		}
		live := registry.Live(all)
		if len(live) == want {
			for _, p := range procs {
				for _, r := range live {
					if r.ID == p.id {
						p.addr = r.Address
					}
				}
			}
			return all
		}
		if time.Now().After(deadline) {
			var logs string
			for _, p := range procs {
				logs += p.id + ":\n" + p.out.String() + "\n"
			}
			t.Fatalf("%d live proxies after %s, want %d: %+v\n%s", len(live), within, want, all, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func statusOf(t *testing.T, addr, host, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/accounts", nil)
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fleetRig is the three-proxy tests' fleet: real proxy processes on one
// catalog (the data dir's file, or a libSQL server), with one tenant and
// a staff token for it.
type fleetRig struct {
	dir     string
	catURL  string // "" = the data dir's catalog file
	procs   []*fleetProc
	cat     *catalog.Catalog
	host    string
	tok     string
	catArgs []string // --data-dir and --catalog-url for the CLI
}

// Fleet-wide limits of the rig's proxies.
const (
	fleetRate       = 40 // the tenant's requests per second
	fleetLoginLimit = 4  // the tenant's login attempts per second
	fleetDemoLimit  = 2  // demos created per second
	// fleetBudgetBurst is the login limit's and demo budget's burst: more
	// than one, so a late tick of the test's own clients on a loaded
	// machine does not waste capacity.
	fleetBudgetBurst = 3
)

// newFleetRig starts three proxies (p1, p2, p3) on a new data dir; with
// remote, its catalog is served by tursodb and reached over HTTP.
func newFleetRig(t *testing.T, remote bool) *fleetRig {
	t.Helper()
	r := &fleetRig{dir: t.TempDir(), host: "acme.microfi.localhost"}
	cli(t, "tenants", "create", "--data-dir", r.dir, "--host", "acme", "--name", "Acme", "--country", "GH")
	r.tok = strings.TrimSpace(cli(t, "token", "--data-dir", r.dir, "--jwt-secret", fleetSecret, "--tenant", "acme", "--role", "staff", "--user", "1", "--ttl", "1h"))
	url := "file:" + filepath.Join(r.dir, "catalog.db")
	r.catArgs = []string{"--data-dir", r.dir}
	if remote {
		r.catURL = startTursodb(t, filepath.Join(r.dir, "catalog.db"))
		url = r.catURL
		r.catArgs = append(r.catArgs, "--catalog-url", r.catURL)
	}
	bin := tenantgateBin(t)
	for _, id := range []string{"p1", "p2", "p3"} {
		args := []string{"--tenant-rate", fmt.Sprint(fleetRate), "--tenant-burst", "8",
			// Fleet-wide login and demo budgets (LoginAndDemoSplit); the
			// test's clients are many addresses behind a trusted proxy, so
			// the per-address limits do not bind.
			"--login-tenant-limit", fmt.Sprintf("%d:%s", fleetBudgetBurst, time.Second/fleetLoginLimit),
			"--demo-budget", fmt.Sprintf("%d:%s", fleetBudgetBurst, time.Second/fleetDemoLimit),
			"--trusted-proxies", "127.0.0.1/32"}
		if remote {
			// Heartbeats over HTTP to one tursodb shared by everything
			// here are late by over a second on a loaded machine: a
			// longer interval keeps live proxies from being counted dead.
			args = append(args, "--catalog-url", r.catURL, "--heartbeat-interval", "500ms")
		}
		r.procs = append(r.procs, startFleetProc(t, bin, r.dir, id, args...))
	}
	cat, err := catalog.Open(context.Background(), url, catalog.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	r.cat = cat
	waitLive(t, cat, r.procs, 3, 60*time.Second)
	for _, p := range r.procs {
		if code := statusOf(t, p.addr, r.host, r.tok); code != 200 {
			t.Fatalf("%s: %d before the tests", p.id, code)
		}
	}
	return r
}

// tenants runs `tenantgate tenants ARGS` on the rig's catalog in-process
// and returns its standard error and error.
func (r *fleetRig) tenants(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	err := Main(context.Background(), env, append(append([]string{"tenants", args[0]}, r.catArgs...), args[1:]...))
	return errOut.String(), err
}

// suspendAcknowledged: `tenants suspend` returns once every proxy refuses
// the tenant.
func (r *fleetRig) suspendAcknowledged(t *testing.T) {
	if msg, err := r.tenants("suspend", "acme"); err != nil || !strings.Contains(msg, "in force on all 3 live proxies") {
		t.Fatalf("suspend: %v\n%s", err, msg)
	}
	for _, p := range r.procs { // no waiting: every proxy already refuses
		if code := statusOf(t, p.addr, r.host, r.tok); code != 403 {
			t.Errorf("%s answered %d right after the acknowledged suspension", p.id, code)
		}
	}
	if msg, err := r.tenants("resume", "acme"); err != nil {
		t.Fatalf("resume: %v\n%s", err, msg)
	}
}

// ackLatency makes n catalog changes, each waited for until all three
// proxies have applied it, and checks the p99 against the goal (1.5 s).
func (r *fleetRig) ackLatency(t *testing.T, n int) {
	ctx := context.Background()
	tn, err := r.cat.Resolve(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for i := range n {
		name := fmt.Sprintf("Acme %d", i)
		start := time.Now()
		if _, err := r.cat.Update(ctx, tn.ID, catalog.Update{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if _, err := registry.AwaitLatest(ctx, r.cat, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p50, p99 := lat[n/2-1], lat[(n*99+99)/100-1]
	t.Logf("acknowledged by 3 proxies: p50 %s, p99 %s, max %s over %d changes", p50, p99, lat[n-1], n)
	if !raceEnabled && p99 > 1500*time.Millisecond {
		t.Errorf("ack p99 %s, want < 1.5s", p99)
	}
}

// drive offers each proxy its rate of requests (do, which reports
// whether the request was admitted) for warm+measure and returns the
// requests sent in the measured part and admitted, per proxy.
func (r *fleetRig) drive(t *testing.T, rates map[*fleetProc]float64, warm, measure time.Duration, do func(p *fleetProc) bool) map[string]int {
	var wg sync.WaitGroup
	counts := map[string]*atomic.Int64{}
	start := time.Now()
	for p, rate := range rates {
		n := &atomic.Int64{}
		counts[p.id] = n
		wg.Go(func() {
			tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer tick.Stop()
			var inner sync.WaitGroup
			for now := range tick.C {
				if now.Sub(start) > warm+measure {
					break
				}
				inner.Go(func() {
					// Counted by when it was sent: the limiter decides on
					// arrival; a login's answer waits for its hash.
					sent := time.Since(start)
					if do(p) && sent > warm && sent <= warm+measure {
						n.Add(1)
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	out := map[string]int{}
	for id, n := range counts {
		out[id] = int(n.Load())
	}
	return out
}

// rateSplit offers the tenant three times its rate limit split across the
// proxies as given (relative weights) and checks the fleet admitted the
// limit within 10%.
func (r *fleetRig) rateSplit(t *testing.T, split map[*fleetProc]float64, warm, measure time.Duration) {
	rates := map[*fleetProc]float64{}
	for p, w := range split {
		rates[p] = 3 * fleetRate * w
	}
	got := r.drive(t, rates, warm, measure, func(p *fleetProc) bool { return statusOf(t, p.addr, r.host, r.tok) == 200 })
	total := 0
	for _, n := range got {
		total += n
	}
	rate := float64(total) / measure.Seconds()
	t.Logf("admitted %.1f/s fleet-wide against a limit of %d/s (%+.1f%%): %v", rate, fleetRate, 100*(rate-fleetRate)/fleetRate, got)
	if rate < 0.9*fleetRate || rate > 1.1*fleetRate {
		t.Errorf("admitted %.1f/s, want within 10%% of %d/s", rate, fleetRate)
	}
}

// loginAndDemoSplit: the tenant's login limit and the platform's demo
// budget, each offered three times over 80/15/5 at once, from a new
// address per request (the per-address and per-e-mail limits never
// bind), are admitted fleet-wide within the documented bound.
func (r *fleetRig) loginAndDemoSplit(t *testing.T) {
	var seq atomic.Int64
	post := func(p *fleetProc, host, path, body string) int {
		n := seq.Add(1)
		req, _ := http.NewRequest("POST", "http://"+p.addr+path, strings.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", p.id, path, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	expect := func(p *fleetProc, path string, code, want int) bool {
		if code != want && code != 429 {
			t.Errorf("%s %s: %d, want %d or 429", p.id, path, code, want)
		}
		return code == want
	}
	login := func(p *fleetProc) bool {
		body := fmt.Sprintf(`{"email":"guess%d@example.com","password":"Wrong-password-1"}`, seq.Add(1))
		return expect(p, "login", post(p, r.host, "/api/auth/login", body), 401)
	}
	demo := func(p *fleetProc) bool {
		return expect(p, "demo", post(p, "microfi.localhost", "/api/public/demo", ""), 201)
	}
	const warm, measure = 3 * time.Second, 5 * time.Second
	var logins, demos map[string]int
	var wg sync.WaitGroup
	wg.Go(func() {
		logins = r.drive(t, map[*fleetProc]float64{r.procs[0]: 2.4 * fleetLoginLimit, r.procs[1]: 0.45 * fleetLoginLimit, r.procs[2]: 0.15 * fleetLoginLimit}, warm, measure, login)
	})
	wg.Go(func() {
		demos = r.drive(t, map[*fleetProc]float64{r.procs[0]: 2.4 * fleetDemoLimit, r.procs[1]: 0.45 * fleetDemoLimit, r.procs[2]: 0.15 * fleetDemoLimit}, warm, measure, demo)
	})
	wg.Wait()
	// The documented bound: the limit over the window, plus one per
	// proxy (each one's burst rounds up to at least one), the burst,
	// and 10% for the shares' lag; per-proxy limits would admit 1.6
	// times it. Below: at least half, since on a loaded machine the
	// busiest proxy's password hashing (one slot per tenant, 2 s queue)
	// refuses some attempts the limit admitted, also with 429.
	for _, c := range []struct {
		what  string
		got   map[string]int
		limit float64
	}{{"logins", logins, fleetLoginLimit}, {"demos", demos, fleetDemoLimit}} {
		total := 0
		for _, n := range c.got {
			total += n
		}
		want := c.limit * measure.Seconds()
		t.Logf("%s admitted %d in %s fleet-wide against %.0f (%+.1f%%): %v", c.what, total, measure, want, 100*(float64(total)-want)/want, c.got)
		if float64(total) > 1.1*want+float64(len(r.procs)+fleetBudgetBurst) || float64(total) < 0.5*want {
			t.Errorf("%s: admitted %d, want %.0f (at most +10%% + %d)", c.what, total, want, len(r.procs)+fleetBudgetBurst)
		}
	}
}

// Three real proxy processes on one catalog file: acknowledged suspension
// (and its laggard named), acknowledgement latency, a tenant's rate limit,
// login limit and the demo budget held fleet-wide under an 80/15/5 split,
// and kill -9: the others count the dead proxy dead within its timeout and
// the limits re-weight.
func TestFleetThreeProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three proxy processes")
	}
	ctx := context.Background()
	r := newFleetRig(t, false)
	procs, cat := r.procs, r.cat

	t.Run("SuspendAcknowledged", r.suspendAcknowledged)

	t.Run("LaggardNamed", func(t *testing.T) {
		// A stopped process applies nothing: the suspension is committed,
		// the command names it and fails.
		procs[2].cmd.Process.Signal(syscall.SIGSTOP)
		_, err := r.tenants("suspend", "--ack-timeout", "1s", "acme")
		procs[2].cmd.Process.Signal(syscall.SIGCONT)
		if !errors.Is(err, registry.ErrNotAcknowledged) || !strings.Contains(err.Error(), "p3") ||
			strings.Contains(err.Error(), "p1 (") || strings.Contains(err.Error(), "p2 (") {
			t.Fatalf("suspend with a stopped proxy: %v", err)
		}
		if tn, _ := cat.Resolve(ctx, "acme"); tn.Status != catalog.StatusSuspended {
			t.Fatalf("suspension not committed: %+v", tn)
		}
		waitLive(t, cat, procs, 3, 10*time.Second)
		if msg, err := r.tenants("resume", "acme"); err != nil {
			t.Fatalf("resume: %v\n%s", err, msg)
		}
		if _, err := registry.AwaitLatest(ctx, cat, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("AckLatency", func(t *testing.T) { r.ackLatency(t, 100) })

	t.Run("RateUnevenSplit", func(t *testing.T) {
		// Three times the limit, 80/15/5: each proxy alone would admit up
		// to the whole limit (1.6 times it in all).
		r.rateSplit(t, map[*fleetProc]float64{procs[0]: 0.8, procs[1]: 0.15, procs[2]: 0.05}, 3*time.Second, 5*time.Second)
	})

	t.Run("LoginAndDemoSplit", r.loginAndDemoSplit)

	t.Run("KillNine", func(t *testing.T) {
		procs[2].cmd.Process.Signal(syscall.SIGKILL)
		procs[2].cmd.Wait()
		killed := time.Now()
		all := waitLive(t, cat, procs[:2], 2, 15*time.Second)
		took := time.Since(killed)
		deadAfter := registry.DeadAfter(300 * time.Millisecond)
		for _, p := range all {
			if p.ID == "p3" && p.State != registry.StateDead {
				t.Fatalf("p3 = %+v", p)
			}
		}
		t.Logf("p3 counted dead %s after kill -9 (timeout %s)", took.Round(time.Millisecond), deadAfter)
		if took > deadAfter+2*time.Second {
			t.Errorf("p3 counted dead after %s, timeout %s", took, deadAfter)
		}
		// The survivors re-weight between themselves: still the limit.
		r.rateSplit(t, map[*fleetProc]float64{procs[0]: 0.8, procs[1]: 0.2}, 3*time.Second, 4*time.Second)
	})
}

// The same fleet on a remote catalog: three proxies whose catalog is a
// libSQL server (tursodb, over HTTP). The registry, acknowledged
// suspension and fleet-wide limits (requests, logins, demos) work through
// it as through a file.
func TestFleetThreeProxiesRemoteCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three proxy processes and tursodb")
	}
	tursodb(t)
	r := newFleetRig(t, true)
	procs := r.procs
	t.Run("Registry", func(t *testing.T) {
		var out, errOut bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		if err := Main(context.Background(), env, append([]string{"fleet"}, r.catArgs...)); err != nil {
			t.Fatalf("fleet: %v\n%s", err, errOut.String())
		}
		for _, want := range []string{"3 live of 3", "p1", "p2", "p3", "serving"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("tenantgate fleet over the remote catalog lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("SuspendAcknowledged", r.suspendAcknowledged)
	t.Run("AckLatency", func(t *testing.T) {
		// 30 changes keep make test short; BENCHMARKS.md runs the goal's
		// 100 with TENANTGATE_FLEET_ACKS=100.
		n := 30
		if v, err := strconv.Atoi(os.Getenv("TENANTGATE_FLEET_ACKS")); err == nil && v >= 10 {
			n = v
		}
		r.ackLatency(t, n)
	})
	t.Run("RateUnevenSplit", func(t *testing.T) {
		r.rateSplit(t, map[*fleetProc]float64{procs[0]: 0.8, procs[1]: 0.15, procs[2]: 0.05}, 3*time.Second, 4*time.Second)
	})
	t.Run("LoginAndDemoSplit", r.loginAndDemoSplit)
}

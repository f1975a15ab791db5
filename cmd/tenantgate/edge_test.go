package main

// Issue 12's hostile-client checks, each against the real binary in its own
// process: file-descriptor exhaustion, memory held by request and response
// bodies (RSS from /proc), and login fairness under a flood.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the tenantgate binary cli_test.go builds (plain `make`, no
// -race: these tests measure the process, not the detector).
func binary(t *testing.T) string { return tenantgateBin(t) }

// proc is a running `tenantgate serve`.
type proc struct {
	cmd     *exec.Cmd
	stdout  *syncBuffer
	stderr  *syncBuffer
	addr    string // 127.0.0.1:PORT of --listen
	ops     string // 127.0.0.1:PORT of --metrics-listen
	dataDir string
	exited  chan struct{}
	exitErr error
}

var (
	publicPortRe = regexp.MustCompile(`public site\s+http://[^:]+:(\d+)`)
	metricsRe    = regexp.MustCompile(`metrics\s+http://([0-9.:]+)/metrics`)
)

// startServe runs serve on a fresh data dir. nofile > 0 runs it under
// `ulimit -n nofile` (soft and hard).
func startServe(t *testing.T, nofile int, args ...string) *proc {
	t.Helper()
	return startServeIn(t, t.TempDir(), nofile, args...)
}

// startServeIn is startServe on a given data dir.
func startServeIn(t *testing.T, dataDir string, nofile int, args ...string) *proc {
	t.Helper()
	bin := binary(t)
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, dataDir: dataDir, exited: make(chan struct{})}
	full := append([]string{"serve", "--data-dir", p.dataDir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, args...)
	if nofile > 0 {
		p.cmd = exec.Command("sh", append([]string{"-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(nofile), bin}, full...)...)
	} else {
		p.cmd = exec.Command(bin, full...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("serve stderr (tail):\n%s", tail(p.stderr.String(), 3000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := p.stdout.String()
		if strings.Contains(out, "Try it") || strings.Contains(out, "Mint a token") {
			port := publicPortRe.FindStringSubmatch(out)
			ops := metricsRe.FindStringSubmatch(out)
			if port == nil || ops == nil {
				t.Fatalf("banner without addresses:\n%s", out)
			}
			p.addr, p.ops = "127.0.0.1:"+port[1], ops[1]
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited: %v\n%s", p.exitErr, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", out, p.stderr.String())
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *proc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("serve exited: %v\n%s", p.exitErr, tail(p.stderr.String(), 3000))
	default:
	}
}

// rss is the process's resident set in bytes (/proc/PID/status VmRSS).
func (p *proc) rss(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// metric reads one sample from the ops listener ("name" or `name{l="v"}`).
func (p *proc) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

// request sends one request on a fresh connection and returns the status.
func request(addr, method, host, path, token, body string, headers ...string) (int, string, error) {
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	req.Close = true
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// holdConns opens n connections that each send the first bytes of a
// request and then wait. Dials that fail are counted, not fatal.
func holdConns(t *testing.T, addr string, n int, first func(i int) []byte) (conns []net.Conn, failed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Write(first(i))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if c != nil {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns, failed
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// waitPublic polls the public site until it answers 200.
func waitPublic(t *testing.T, p *proc, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, _, err := request(p.addr, "GET", "microfi.localhost", "/api/public/countries", "", "")
		if err == nil && code == 200 {
			return
		}
		p.alive(t)
		if time.Now().After(deadline) {
			t.Fatalf("no normal request succeeded within %v: %d %v", within, code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var halfHeader = func(int) []byte { return []byte("GET / HTTP/1.1\r\nHost: microfi.localhost\r\nX-Slow: ") }

// Under `ulimit -n 1024`, 1,100 connections that each send half a header
// must not end the process (it used to exit on "accept4: too many open
// files"): with the default caps they are refused at accept; with caps
// above the descriptor limit accept fails for real and backs off. Either
// way the rejections are logged and counted, and a normal request succeeds
// once the flood closes.
func TestEdgeSurvivesDescriptorExhaustion(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		reason string
	}{
		// nofile 1,024 gives 192 connections (splitFDs), below the
		// per-address cap of 256: the total cap refuses first.
		{"DefaultCaps", nil, "max_conns"},
		{"AcceptFails", []string{"--max-conns", "5000", "--max-conns-per-ip", "0"}, "resources"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startServe(t, 1024, c.args...)
			conns, failed := holdConns(t, p.addr, 1100, halfHeader)
			t.Logf("%d connections held, %d failed to connect", len(conns), failed)
			defer func(start time.Time) { t.Logf("recovered in %v", time.Since(start)) }(time.Now())
			time.Sleep(time.Second)
			p.alive(t)
			closeAll(conns)
			waitPublic(t, p, 20*time.Second)
			if n := p.metric(t, `tenantgate_connections_rejected_total{reason="`+c.reason+`"}`); n <= 0 {
				t.Errorf("rejections with reason %s: %v, want > 0", c.reason, n)
			}
			if !strings.Contains(p.stderr.String(), "connection refused or shed") {
				t.Error("no rejection was logged")
			}
		})
	}
}

// 200 anonymous connections each announcing an 8 MB body and sending part
// of it: refused from the headers (413), so RSS grows by less than 100 MB
// (it grew 8.2 MB per connection) and returns near its baseline.
func TestEdgeBodyFloodMemory(t *testing.T) {
	p := startServe(t, 0)
	waitPublic(t, p, 10*time.Second)
	base := p.rss(t)
	const announced = 8283750
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	head := fmt.Sprintf("POST /api/public/signup HTTP/1.1\r\nHost: microfi.localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", announced)
	conns, failed := holdConns(t, p.addr, 200, func(int) []byte { return []byte(head) })
	var wg sync.WaitGroup
	for _, c := range conns { // the body, until the server stops taking it
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetWriteDeadline(time.Now().Add(3 * time.Second))
			for range 7 {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}()
	}
	peak := base
	for range 20 {
		peak = max(peak, p.rss(t))
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	peak = max(peak, p.rss(t))
	p.alive(t)
	t.Logf("baseline RSS %d MB, peak %d MB (%d connections, %d failed)", base>>20, peak>>20, len(conns), failed)
	if peak-base >= 100<<20 {
		t.Errorf("RSS grew by %d MB, want < 100 MB", (peak-base)>>20)
	}
	if n := p.metric(t, "tenantgate_request_body_rejected_total"); n < float64(len(conns)) {
		t.Errorf("%v bodies refused, want %d", n, len(conns))
	}
	closeAll(conns)
	deadline := time.Now().Add(15 * time.Second)
	for {
		now := p.rss(t)
		if float64(now) <= 1.2*float64(base) {
			t.Logf("RSS back to %d MB", now>>20)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RSS %d MB after the flood, baseline %d MB (want within 20%%)", now>>20, base>>20)
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitPublic(t, p, 5*time.Second)
}

// amplificationPipeline is issue 12's pipeline: a stored 5,000-character
// statement whose error echoes it, then a batch of steps that run it.
func amplificationPipeline(steps int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"requests":[{"type":"store_sql","sql_id":1,"sql":"SELECT %s"},{"type":"batch","batch":{"steps":[`, strings.Repeat("x", 4990))
	for i := range steps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"stmt":{"sql_id":1}}`)
	}
	b.WriteString(`]}}]}`)
	return b.String()
}

// The amplification pipeline (225 KB in, 50.7 MB out before) is refused or
// answered within the response cap, and 40 clients that send it and never
// read keep RSS under 1 GB (they took it to 5.7 GB) — also with a shape
// under the step limit that runs.
func TestEdgeHranaAmplification(t *testing.T) {
	p := startServe(t, 0)
	tok := strings.TrimSpace(cli(t, "token", "--data-dir", p.dataDir, "--tenant", "demo", "--role", "service"))
	const host = "demo.microfi.localhost"
	exact := amplificationPipeline(10_000)
	code, body, err := request(p.addr, "POST", host, "/v2/pipeline", tok, exact)
	if err != nil || code != 400 || !strings.Contains(body, "limit 10000") {
		t.Fatalf("the 10,000-step pipeline: %d %.200s %v", code, body, err)
	}
	runs := amplificationPipeline(2_000)
	code, body, err = request(p.addr, "POST", host, "/v2/pipeline", tok, runs)
	if err != nil || code != 200 || len(body) > 32<<20 {
		t.Fatalf("the 2,000-step pipeline: %d, %d bytes, %v", code, len(body), err)
	}
	t.Logf("2,000 echoing steps: %d bytes (cap %d)", len(body), 32<<20)

	base := p.rss(t)
	for _, pipeline := range []string{exact, runs} {
		head := fmt.Sprintf("POST /v2/pipeline HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", host, tok, len(pipeline))
		conns, failed := holdConns(t, p.addr, 40, func(int) []byte { return []byte(head + pipeline) })
		if failed > 0 {
			t.Fatalf("%d of 40 clients failed to send", failed)
		}
		defer closeAll(conns)
	}
	peak := base
	deadline := time.Now().Add(60 * time.Second)
	for p.metric(t, `tenantgate_hrana_pipelines_total{endpoint="v2"}`) < 82 && time.Now().Before(deadline) {
		peak = max(peak, p.rss(t))
		time.Sleep(100 * time.Millisecond)
	}
	for range 10 {
		peak = max(peak, p.rss(t))
		time.Sleep(100 * time.Millisecond)
	}
	p.alive(t)
	t.Logf("RSS baseline %d MB, peak %d MB with 80 non-reading clients", base>>20, peak>>20)
	if peak >= 1<<30 {
		t.Errorf("RSS peaked at %d MB, want < 1 GB", peak>>20)
	}
}

var demoLoginRe = regexp.MustCompile(`demo login\s+(\S+) / (\S+)`)

// A 64-client login flood with random e-mails (and, through a trusted
// proxy, random client addresses) on one tenant leaves another tenant's
// correct login under 250 ms at the median (it was 1.38 s).
func TestEdgeLoginFloodFairness(t *testing.T) {
	p := startServe(t, 0, "--trusted-proxies", "127.0.0.1/32")
	m := demoLoginRe.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no demo login in the banner:\n%s", p.stdout.String())
	}
	cli(t, "tenants", "create", "--data-dir", p.dataDir, "--host", "flooded", "--name", "Flooded", "--country", "KE")
	login := func(host, email, password string, headers ...string) (int, error) {
		code, _, err := request(p.addr, "POST", host, "/api/auth/login", "",
			fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), headers...)
		return code, err
	}
	if code, err := login("demo.microfi.localhost", m[1], m[2]); code != 200 {
		t.Fatalf("demo login before the flood: %d %v", code, err) // also upgrades the demo hash
	}
	for deadline := time.Now().Add(10 * time.Second); ; { // the new tenant is served within about a second
		if code, _ := login("flooded.microfi.localhost", "a@example.com", "Wrong-password-1", "X-Forwarded-For", "192.0.2.1"); code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new tenant was never served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The unloaded cost of a correct login on this machine: on a shared,
	// busy machine one password hash alone can take longer than the bound,
	// so the bound is 250 ms or five quiet logins, whichever is more (the
	// flood used to cost 55 quiet logins: 25 ms → 1.38 s).
	quietP50 := func() time.Duration {
		var quiet []time.Duration
		for range 5 {
			start := time.Now()
			if code, err := login("demo.microfi.localhost", m[1], m[2]); code != 200 {
				t.Fatalf("demo login without a flood: %d %v", code, err)
			}
			quiet = append(quiet, time.Since(start))
		}
		slices.Sort(quiet)
		return quiet[len(quiet)/2]
	}
	quietBefore := quietP50()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 64 {
		wg.Add(1)
		go func() { // raw keep-alive connections: the flood's own CPU stays small
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			for ctx.Err() == nil {
				if c == nil {
					var err error
					if c, err = net.Dial("tcp", p.addr); err != nil {
						return
					}
					br = bufio.NewReader(c)
				}
				body := fmt.Sprintf(`{"email":"u%d@example.com","password":"Wrong-password-1"}`, rand.Int64())
				fmt.Fprintf(c, "POST /api/auth/login HTTP/1.1\r\nHost: flooded.microfi.localhost\r\nX-Forwarded-For: 198.51.%d.%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
					rand.IntN(256), rand.IntN(256), len(body), body)
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					c.Close()
					c = nil
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
			if c != nil {
				c.Close()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	var took []time.Duration
	for range 12 {
		start := time.Now()
		code, err := login("demo.microfi.localhost", m[1], m[2])
		took = append(took, time.Since(start))
		if code != 200 {
			t.Errorf("demo login during the flood: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	quiet := max(quietBefore, quietP50()) // the machine's load drifts: the slower of before and after
	bound := max(250*time.Millisecond, 5*quiet)
	slices.Sort(took)
	p50 := took[len(took)/2]
	t.Logf("correct logins: quiet p50 %v; during the flood p50 %v, max %v; flood answers %v", quiet, p50, took[len(took)-1], codes)
	for _, l := range []string{"login_ip", "login_tenant", "login", "login_queue"} {
		t.Logf("429s by %s: %v", l, p.metric(t, `tenantgate_throttled_requests_total{limiter="`+l+`"}`))
	}
	if codes[401] == 0 {
		t.Errorf("the flood never reached password checking: %v", codes)
	}
	if raceEnabled {
		t.Logf("latency bound (p50 < %v) is checked without -race", bound)
		return
	}
	if p50 >= bound {
		t.Errorf("p50 of another tenant's correct login %v, want < %v", p50, bound)
	}
}

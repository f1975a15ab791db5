package tlsedge_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The second proxy of the on-demand test runs as its own process: the real
// `tenantgate serve` binary, sharing only the data directory (catalog and
// certificate storage) with the first, as two machines sharing a catalog
// would.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tenantgateBin builds ./cmd/tenantgate once per test binary, on first use
// (tests that do not need it do not pay for the build).
func tenantgateBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "tenantgate-tlsedge-bin-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "tenantgate"), "github.com/microfi/tenantgate/cmd/tenantgate").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build tenantgate: %v", binErr)
	}
	return filepath.Join(binDir, "tenantgate")
}

// serveProcess is a running `tenantgate serve`.
type serveProcess struct {
	TLSAddr, HTTPAddr, OpsAddr string
	cmd                        *exec.Cmd
	out                        *lockedBuffer
	exited                     chan struct{}
}

var opsRe = regexp.MustCompile(`metrics\s+http://([0-9.:]+)/metrics`)

// startServeProcess runs serve on dataDir with an HTTPS listener (and a
// plain one, no redirect) on fresh loopback ports, until the test ends.
func startServeProcess(t testing.TB, dataDir string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{
		TLSAddr:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		out:      &lockedBuffer{}, exited: make(chan struct{}),
	}
	full := append([]string{"serve", "--data-dir", dataDir, "--root-domain", rootDomain, "--seed-demo=false",
		"--listen", p.HTTPAddr, "--tls-listen", p.TLSAddr, "--metrics-listen", "127.0.0.1:0"}, args...)
	p.cmd = exec.Command(tenantgateBin(t), full...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	must(t, p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("second proxy's output:\n%s", p.out.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := opsRe.FindStringSubmatch(p.out.String()); m != nil {
			if c, err := net.DialTimeout("tcp", p.TLSAddr, time.Second); err == nil {
				c.Close()
				p.OpsAddr = m[1]
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("serve exited:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", p.out.String())
		}
	}
}

// cli runs the binary once (e.g. `token`) and returns its stdout.
func cli(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(tenantgateBin(t), args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tenantgate %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("tenantgate %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// scrapeMetric reads one series from a process's /metrics (0 if absent).
func scrapeMetric(t testing.TB, ops, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + ops + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			must(t, err)
			return f
		}
	}
	return 0
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
)

// crashAtEnv, in the environment of this test binary, makes it run the
// tenantgate CLI instead of the tests (the arguments after the binary) and
// stop at that provisioning step, announcing it on stderr, until killed.
const crashAtEnv = "TENANTGATE_TEST_CRASH_AT"

// runCrashChild runs this test binary as the CLI (see crashAtEnv) and
// exits; it returns only when the variable is not set. TestMain calls it.
func runCrashChild() {
	step := os.Getenv(crashAtEnv)
	if step == "" {
		return
	}
	provisionHook = func(s string) {
		if s == step {
			fmt.Fprintln(os.Stderr, "PAUSED "+s)
			select {} // until SIGKILL
		}
	}
	moveHook = provisionHook
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: func(string) string { return "" }}
	if err := Main(context.Background(), env, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tenantgate:", err)
		os.Exit(exitCode(err))
	}
	os.Exit(0)
}

// TestCreateKilled runs real `tenantgate tenants create` processes and
// SIGKILLs them mid-create — at every provisioning step, and at random
// moments — then starts `serve` on the same data dir. Every tenant must be
// whole (reachable, seeded) or absent, no file may lack its catalog row,
// and no request may count a stamp mismatch.
func TestCreateKilled(t *testing.T) {
	dir := t.TempDir()
	// A completed tenant beside the crashed ones must come through intact.
	if _, err := runCLI(t, "tenants", "create", "--data-dir", dir, "--host", "steady", "--name", "Steady Bank", "--country", "GH", "--sample-data"); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, step := range []string{"inserted", "building", "built", "finished"} {
		host := "crash-" + step
		hosts = append(hosts, host)
		cmd := createProcess(dir, host, step)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		paused := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "PAUSED ") {
					paused <- sc.Text()
				}
			}
			close(paused)
		}()
		select {
		case line, ok := <-paused:
			if !ok {
				cmd.Wait()
				t.Fatalf("%s: create exited without pausing", step)
			}
			t.Logf("killing at %q", line)
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: create never reached its pause point", step)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	// And at random moments (no pause point: the process runs freely).
	for i := range 4 {
		host := fmt.Sprintf("random-%d", i)
		hosts = append(hosts, host)
		cmd := createProcess(dir, host, "none")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}

	addr, ops := runServerOps(t, dir)
	secret, err := jwtSecret(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := proxy.NewAuth(secret)
	if err != nil {
		t.Fatal(err)
	}
	list := cli(t, "tenants", "list", "--data-dir", dir, "--json")
	ids := map[string]int64{}
	for _, m := range regexp.MustCompile(`"id": (\d+),\s*"host": "([a-z0-9-]+)"`).FindAllStringSubmatch(list, -1) {
		var id int64
		fmt.Sscan(m[1], &id)
		ids[m[2]] = id
	}
	if _, ok := ids["steady"]; !ok {
		t.Fatalf("the completed tenant is gone: %s", list)
	}
	for _, host := range append(hosts, "steady") {
		id, exists := ids[host]
		tid := id
		if !exists {
			tid = 424242
		}
		tok, _, err := auth.Issue(proxy.Claims{TenantID: proxy.Int(tid), UserID: proxy.Int(1), Role: proxy.RoleAdmin}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		code, body := get(t, addr, host+".microfi.localhost", "/api/accounts", tok)
		switch {
		case exists && (code != 200 || !strings.Contains(body, `"currency":"GHS"`)):
			t.Errorf("%s (id %d) is in the catalog but not whole: %d %s", host, id, code, body)
		case !exists && code != 404:
			t.Errorf("%s is not in the catalog but answers %d %s", host, code, body)
		}
		t.Logf("%s: in catalog %v, %d", host, exists, code)
	}
	// Every database file has its row; no temp file is left.
	files, _ := os.ReadDir(filepath.Join(dir, "tenants"))
	for _, f := range files {
		name := f.Name()
		if strings.HasSuffix(name, ".tmp") {
			t.Errorf("temp file left: %s", name)
		}
		var id int64
		if _, err := fmt.Sscanf(name, "%d.db", &id); err == nil && !strings.Contains(name, "-") {
			found := false
			for _, v := range ids {
				found = found || v == id
			}
			if !found {
				t.Errorf("database file %s has no catalog row", name)
			}
		}
	}
	if n := metricValue(t, ops, `tenantgate_tenant_db_open_failures_total{reason="stamp_mismatch"}`); n != 0 {
		t.Errorf("stamp_mismatch counted %v times", n)
	}
}

// createProcess is `tenantgate tenants create` as a child process (this
// test binary, see TestMain) that pauses at step.
func createProcess(dir, host, step string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "tenants", "create", "--data-dir", dir, "--host", host,
		"--name", "Crash "+host, "--country", "GH", "--sample-data")
	cmd.Env = append(os.Environ(), crashAtEnv+"="+step)
	cmd.Stdout = io.Discard
	return cmd
}

// runServerOps is runServer that also returns the ops (metrics) address.
func runServerOps(t *testing.T, dataDir string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ listen, ops string }
	ready := make(chan addrs, 1)
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" },
		Ready: func(listen, ops string) { ready <- addrs{listen, ops} }}
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, env, []string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		return a.listen, a.ops
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", ""
}

// metricValue reads one sample from /metrics (0 when absent).
func metricValue(t *testing.T, ops, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

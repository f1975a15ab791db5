package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runServer runs `tenantgate serve` in-process on loopback ports until the
// test ends and returns its listen address and stdout.
func runServer(t *testing.T, dataDir string, extra ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan string, 1)
	env := &Env{Stdout: out, Stderr: io.Discard, Getenv: func(string) string { return "" },
		Ready: func(listen, _ string) { ready <- listen }}
	done := make(chan error, 1)
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, extra...)
	go func() { done <- Main(ctx, env, args) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-ready:
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), "Try it") && !strings.Contains(out.String(), "Mint a token") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		return addr, out
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func get(t *testing.T, addr, host, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if err := Main(context.Background(), env, args); err != nil {
		t.Fatalf("tenantgate %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// A new user's first run: the banner's curl works, and tenants made with the
// CLI while the server runs are served within about a second.
func TestServeFirstRun(t *testing.T) {
	dir := t.TempDir()
	addr, out := runServer(t, dir)
	banner := out.String()
	for _, want := range []string{"http://microfi.localhost:", "http://demo.microfi.localhost:", "demo login", "curl -H 'Host: demo.microfi.localhost'"} {
		if !strings.Contains(banner, want) {
			t.Fatalf("banner lacks %q:\n%s", want, banner)
		}
	}
	tok := regexp.MustCompile(`Bearer ([A-Za-z0-9_\-.]+)'`).FindStringSubmatch(banner)
	if tok == nil {
		t.Fatalf("no token in banner:\n%s", banner)
	}
	code, body := get(t, addr, "demo.microfi.localhost", "/api/accounts", tok[1])
	if code != 200 || !strings.Contains(body, `"currency":"GHS"`) {
		t.Fatalf("demo accounts: %d %s", code, body)
	}

	created := cli(t, "tenants", "create", "--data-dir", dir, "--host", "client2", "--name", "Client Two", "--country", "KE")
	var tn struct{ ID int64 }
	if err := json.Unmarshal([]byte(created), &tn); err != nil || tn.ID == 0 {
		t.Fatalf("create output %q: %v", created, err)
	}
	tok2 := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "client2", "--role", "staff", "--user", "1"))
	waitStatus(t, addr, "client2.microfi.localhost", tok2, 200)

	cli(t, "tenants", "suspend", "--data-dir", dir, "client2")
	waitStatus(t, addr, "client2.microfi.localhost", tok2, 403)
	cli(t, "tenants", "resume", "--data-dir", dir, "client2")
	waitStatus(t, addr, "client2.microfi.localhost", tok2, 200)
	cli(t, "tenants", "delete", "--data-dir", dir, "client2")
	waitStatus(t, addr, "client2.microfi.localhost", tok2, 404)

	list := cli(t, "tenants", "list", "--data-dir", dir, "--json")
	if !strings.Contains(list, `"host": "demo"`) || strings.Contains(list, "client2") {
		t.Fatalf("list: %s", list)
	}
}

// waitStatus polls until the server answers want, within about a second.
func waitStatus(t *testing.T, addr, host, tok string, want int) {
	t.Helper()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		code, body := get(t, addr, host, "/api/accounts", tok)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %s, want %d", host, code, body, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestFlagsFromEnv(t *testing.T) {
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"TENANTGATE_DATA_DIR": t.TempDir(), "TENANTGATE_ROLE": "platform_admin",
			"TENANTGATE_JWT_SECRET": strings.Repeat("k", 32)}[k]
	}}
	if err := Main(context.Background(), env, []string{"token"}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), ".") != 2 {
		t.Fatalf("not a JWT: %q", out.String())
	}
	if err := Main(context.Background(), env, []string{"token", "--role", "nobody"}); err == nil || exitCode(err) != 2 {
		t.Fatalf("flag should win over env and be refused: %v", err)
	}
}

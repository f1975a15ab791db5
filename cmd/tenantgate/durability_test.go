package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard/verify"
)

const serveHelperEnv = "TENANTGATE_TEST_SERVE_DIR"

// TestHelperServe is not a test: with serveHelperEnv set it is the server
// process TestKillDuringKeyedDeposits starts and SIGKILLs.
func TestHelperServe(t *testing.T) {
	dir := os.Getenv(serveHelperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	env := &Env{Stdout: io.Discard, Stderr: os.Stderr, Getenv: func(string) string { return "" },
		Ready: func(listen, _ string) { fmt.Printf("LISTEN %s\n", listen) }}
	err := Main(context.Background(), env, []string{"serve", "--data-dir", dir,
		"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--ledger-audit-rate", "-1", "--log-level", "error"})
	if err != nil {
		t.Fatal(err)
	}
}

func startServeProcess(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), serveHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(60 * time.Second):
		t.Fatal("server process did not start")
	}
	return nil, ""
}

// keyedDeposit posts one deposit with an Idempotency-Key and reports the
// status and whether it was a replay.
func keyedDeposit(client *http.Client, addr, token, key string, account int64) (int, bool, error) {
	body := fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":3,"description":"kill test"}`, account)
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/transactions", strings.NewReader(body))
	req.Host = "demo.microfi.localhost"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Idempotent-Replayed") == "true", nil
}

// A server killed with SIGKILL in the middle of keyed deposits loses none
// it acknowledged: after a restart every acknowledged key replays (its
// posting and idempotency record were committed together), and the ledger
// verifies.
func TestKillDuringKeyedDeposits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	cmd, addr := startServeProcess(t, dir)
	tok := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "demo", "--role", "staff", "--user", "1"))
	code, body := get(t, addr, "demo.microfi.localhost", "/api/accounts", tok)
	var res struct{ Accounts []struct{ ID int64 } }
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res.Accounts) == 0 {
		t.Fatalf("accounts: %d %s", code, body)
	}
	account := res.Accounts[0].ID

	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("kill-%d-%d", g, i)
				st, _, err := keyedDeposit(client, addr, tok, key, account)
				if err != nil {
					return // the server is gone
				}
				if st == http.StatusCreated {
					mu.Lock()
					acked = append(acked, key)
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 150 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no deposit was acknowledged before the kill")
	}

	_, addr = startServeProcess(t, dir)
	lost := 0
	for _, key := range acked {
		st, replayed, err := keyedDeposit(client, addr, tok, key, account)
		// 429 and 503 say "try again" (a restarted proxy may throttle while
		// the fleet re-weights): retry as a client would, never count them.
		for try := 0; err == nil && (st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable) && try < 60; try++ {
			time.Sleep(500 * time.Millisecond)
			st, replayed, err = keyedDeposit(client, addr, tok, key, account)
		}
		if err != nil {
			t.Fatal(err)
		}
		if st != http.StatusCreated || !replayed {
			t.Logf("key %s after restart: status %d, replayed %v", key, st, replayed)
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged keyed deposits were lost by SIGKILL", lost, len(acked))
	}
	r, err := verify.Tenant(context.Background(), verify.Target{ID: 1, URL: "file:" + filepath.Join(dir, "tenants", "1.db")})
	if err != nil || !r.OK {
		t.Errorf("ledger after SIGKILL: %v %+v", err, r.Findings)
	}
	t.Logf("%d acknowledged keyed deposits, all replayed after SIGKILL and restart; %d postings", len(acked), r.Postings)
}

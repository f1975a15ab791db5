package proxy_test

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy"
)

// BenchmarkRemotePointRead compares a Hrana point read of a remote tenant
// sent through a front proxy (JWT, host routing, limits, the statement
// check, forwarding over HTTP to the shard) with the same read sent
// directly to the shard, side by side in one run. Both are real `tenantgate
// serve` processes built here; the shard serves tenant "bench", the front's
// tenant "bench" (same id) lives on it. The same client drives both.
//
//	go test ./proxy -run '^$' -bench RemotePointRead -benchtime 3s
func BenchmarkRemotePointRead(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "tenantgate")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../cmd/tenantgate").CombinedOutput(); err != nil {
		b.Fatalf("build tenantgate: %v\n%s", err, out)
	}
	const secret = "bench-secret-0123456789abcdef0123456789"
	// TENANTGATE_BENCH_PPROF=FILE writes a CPU profile of the front
	// process taken during the through-front run.
	profile := os.Getenv("TENANTGATE_BENCH_PPROF")
	var frontOps string
	// TENANTGATE_BENCH_BASELINE_BIN=PATH adds a second front run by that
	// binary (another build of tenantgate), side by side.
	baseline := os.Getenv("TENANTGATE_BENCH_BASELINE_BIN")
	serveBin := func(bin, data string, extra ...string) string {
		addr, ops := freeAddr(b), freeAddr(b)
		frontOps = ops
		cmd := exec.Command(bin, append([]string{"serve", "--data-dir", data, "--listen", addr, "--metrics-listen", ops, "--jwt-secret", secret, "--tenant-rate", "0"}, extra...)...)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
		waitListening(b, addr)
		return "http://" + addr
	}
	serve := func(data string, extra ...string) string { return serveBin(bin, data, extra...) }
	cli := func(data string, args ...string) string {
		args = append(args, "--data-dir", data)
		if args[0] == "token" {
			args = append(args, "--jwt-secret", secret)
		}
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			b.Fatalf("tenantgate %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	shardData, frontData := filepath.Join(dir, "shard"), filepath.Join(dir, "front")
	shardURL := serve(shardData)
	cli(shardData, "tenants", "create", "--host", "bench", "--name", "Bench", "--country", "GH", "--id", "2")
	shardTok := cli(shardData, "token", "--tenant", "bench", "--role", "service")
	host := "bench." + proxy.DefaultRootDomain
	client := &fasthttp.Client{MaxConnsPerHost: 512}
	waitServed(b, client, shardURL, host, shardTok)
	seedAcct(b, poster(b, client, shardURL+"/v2/pipeline", host, "Bearer "+shardTok))

	cli(frontData, "tenants", "create", "--host", "bench", "--name", "Bench", "--country", "GH", "--id", "2",
		"--db-url", shardURL+"/t/bench?authToken="+url.QueryEscape(shardTok))
	frontArgs := []string{"--seed-demo=false"}
	if profile != "" {
		frontArgs = append(frontArgs, "--pprof")
	}
	frontURL := serve(frontData, frontArgs...)
	frontTok := cli(frontData, "token", "--tenant", "bench", "--role", "service")
	waitServed(b, client, frontURL, host, frontTok)

	b.Run("direct", func(b *testing.B) { pointReadModes(b, shardURL+"/v2/pipeline", host, "Bearer "+shardTok, true, client) })
	if baseline != "" {
		baseData := filepath.Join(dir, "front-baseline")
		cli(baseData, "tenants", "create", "--host", "bench", "--name", "Bench", "--country", "GH", "--id", "2",
			"--db-url", shardURL+"/t/bench?authToken="+url.QueryEscape(shardTok))
		baseURL := serveBin(baseline, baseData, "--seed-demo=false")
		baseTok := cli(baseData, "token", "--tenant", "bench", "--role", "service")
		waitServed(b, client, baseURL, host, baseTok)
		b.Run("through-front-baseline", func(b *testing.B) {
			pointReadModes(b, baseURL+"/v2/pipeline", host, "Bearer "+baseTok, true, client)
		})
	}
	if profile != "" {
		done := make(chan struct{})
		go func() {
			defer close(done)
			status, body, err := client.GetTimeout(nil, "http://"+frontOps+"/debug/pprof/profile?seconds=4", 30*time.Second)
			if err != nil || status != 200 {
				b.Logf("profile: %d %v", status, err)
				return
			}
			os.WriteFile(profile, body, 0o644)
		}()
		b.Cleanup(func() { <-done })
	}
	b.Run("through-front", func(b *testing.B) { pointReadModes(b, frontURL+"/v2/pipeline", host, "Bearer "+frontTok, true, client) })
}

// waitServed waits until the tenant host answers Hrana on url.
func waitServed(b *testing.B, client *fasthttp.Client, url, host, tok string) {
	b.Helper()
	post := poster(b, client, url+"/v2/pipeline", host, "Bearer "+tok)
	for i := 0; i < 100; i++ {
		if status, _ := post([]byte(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}},{"type":"close"}]}`)); status == 200 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("%s not served on %s", host, url)
}

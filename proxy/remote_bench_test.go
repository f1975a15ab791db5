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
	serve := func(data string, extra ...string) string {
		addr, ops := freeAddr(b), freeAddr(b)
		cmd := exec.Command(bin, append([]string{"serve", "--data-dir", data, "--listen", addr, "--metrics-listen", ops, "--jwt-secret", secret, "--tenant-rate", "0"}, extra...)...)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
		waitListening(b, addr)
		return "http://" + addr
	}
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
	frontURL := serve(frontData, "--seed-demo=false")
	frontTok := cli(frontData, "token", "--tenant", "bench", "--role", "service")
	waitServed(b, client, frontURL, host, frontTok)

	b.Run("direct", func(b *testing.B) { pointReadModes(b, shardURL+"/v2/pipeline", host, "Bearer "+shardTok, true, client) })
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

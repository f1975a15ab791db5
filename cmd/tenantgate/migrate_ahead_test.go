package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
)

// aheadBin builds a tenantgate binary one tenant schema version ahead of
// this source (migrations/ahead.go, build tag tenantgate_schema_ahead):
// kind "expand" adds one expand-only migration, "contract" adds that one
// and a migration that is not expand-only after it.
func aheadBin(t *testing.T, dir, kind string) string {
	t.Helper()
	bin := filepath.Join(dir, "tenantgate-"+kind)
	cmd := exec.Command("go", "build", "-tags", "tenantgate_schema_ahead",
		"-ldflags", "-X github.com/microfi/tenantgate/migrations.aheadKind="+kind, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build-proxy: the compile cache is shared
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the %s binary: %v\n%s", kind, err, out)
	}
	return bin
}

// runBin runs bin and returns its combined output and exit code.
func runBin(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("%s %v: %v", bin, args, err)
	return "", -1
}

// `migrate` run by a binary one schema version ahead of a live proxy, all
// real processes on one catalog: an expand-only version goes ahead and the
// old proxy keeps serving it, even tenants it opens afterwards; a version
// that is not expand-only is refused while the old proxy is live, naming
// it, goes ahead with --force (the old proxy then refuses that tenant with
// 503 and says why in its log), and goes ahead without --force once the
// old proxy has left the fleet.
func TestMigrateSchemaAheadBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and runs a proxy process")
	}
	old := tenantgateBin(t)
	bins := t.TempDir()
	expand, contract := aheadBin(t, bins, "expand"), aheadBin(t, bins, "contract")
	base := migrations.Tenant.Latest()

	dir := t.TempDir()
	ctx := context.Background()
	for _, h := range []string{"acme", "beta", "gamma"} {
		cli(t, "tenants", "create", "--data-dir", dir, "--host", h, "--name", h, "--country", "GH")
	}
	cat, err := catalog.Open(ctx, "file:"+filepath.Join(dir, "catalog.db"), catalog.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tokens, files := map[string]string{}, map[string]string{}
	for _, h := range []string{"acme", "beta", "gamma"} {
		tokens[h] = strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--jwt-secret", fleetSecret, "--tenant", h, "--role", "staff", "--user", "1", "--ttl", "1h"))
		tn, err := cat.Resolve(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		files[h] = filepath.Join(dir, "tenants", fmt.Sprintf("%d.db", tn.ID))
	}
	version := func(h string) int {
		t.Helper()
		db, err := sql.Open("sqlite", files[h])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v int
		if err := db.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	p := startFleetProc(t, old, dir, "old-1")
	waitLive(t, cat, []*fleetProc{p}, 1, 60*time.Second)
	get := func(h string) int { return statusOf(t, p.addr, h+".microfi.localhost", tokens[h]) }
	if code := get("acme"); code != 200 { // open before any migration
		t.Fatalf("acme: %d", code)
	}

	t.Run("ExpandOnlyServedByOldProxy", func(t *testing.T) {
		out, code := runBin(t, expand, "migrate", "--data-dir", dir)
		if code != 0 {
			t.Fatalf("expand-only migrate with an old proxy live: exit %d\n%s", code, out)
		}
		for _, h := range []string{"acme", "beta", "gamma"} {
			if v := version(h); v != base+1 {
				t.Fatalf("%s at version %d after migrate, want %d", h, v, base+1)
			}
		}
		// acme was open before; beta is opened now, on the newer schema.
		for _, h := range []string{"acme", "beta"} {
			if code := get(h); code != 200 {
				t.Errorf("old proxy on the expand-only newer %s: %d\n%s", h, code, p.out.String())
			}
		}
	})

	t.Run("ContractRefusedWhileOldProxyLive", func(t *testing.T) {
		out, code := runBin(t, contract, "migrate", "--data-dir", dir)
		want := fmt.Sprintf("%04d_ahead_contract", base+2)
		if code == 0 || !strings.Contains(out, "old-1") || !strings.Contains(out, want) || !strings.Contains(out, "--force") {
			t.Fatalf("migrate past the old proxy: exit %d, want a refusal naming old-1 and %s:\n%s", code, want, out)
		}
		if v := version("acme"); v != base+1 {
			t.Fatalf("refused migrate changed acme to %d", v)
		}
	})

	t.Run("ForceThenOldProxyRefusesClearly", func(t *testing.T) {
		out, code := runBin(t, contract, "migrate", "--data-dir", dir, "--force", "--tenant", "gamma")
		if code != 0 || !strings.Contains(out, "WARNING: --force") || !strings.Contains(out, "old-1") {
			t.Fatalf("migrate --force: exit %d\n%s", code, out)
		}
		if v := version("gamma"); v != base+2 {
			t.Fatalf("gamma at %d after --force, want %d", v, base+2)
		}
		if code := get("gamma"); code != 503 {
			t.Fatalf("old proxy on gamma past its schema: %d, want 503", code)
		}
		if !strings.Contains(p.out.String(), "newer than this binary") {
			t.Errorf("the old proxy's log does not say why gamma is refused:\n%s", p.out.String())
		}
		if code := get("beta"); code != 200 {
			t.Errorf("beta (not migrated) on the old proxy: %d", code)
		}
	})

	t.Run("ProceedsOnceOldProxyGone", func(t *testing.T) {
		p.cmd.Process.Signal(syscall.SIGTERM) // deregisters, then drains
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("old proxy after SIGTERM: %v\n%s", err, p.out.String())
		}
		out, code := runBin(t, contract, "migrate", "--data-dir", dir)
		if code != 0 || strings.Contains(out, "WARNING") {
			t.Fatalf("migrate with the old proxy gone: exit %d\n%s", code, out)
		}
		for _, h := range []string{"acme", "beta", "gamma"} {
			if v := version(h); v != base+2 {
				t.Errorf("%s at %d, want %d", h, v, base+2)
			}
		}
	})
}

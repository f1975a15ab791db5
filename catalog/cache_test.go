package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/catalog"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// mustOpen opens a catalog file; poll < 0 disables the change poller (a
// CLI-like process), otherwise it is the poll interval (a server).
func mustOpen(tb testing.TB, path string, poll time.Duration) (*catalog.Catalog, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	c, err := catalog.Open(context.Background(), "file:"+path, catalog.Options{Registerer: reg, Logger: quiet, PollInterval: poll})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, reg
}

func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		if m.Histogram != nil {
			return float64(m.Histogram.GetSampleCount())
		}
	}
	tb.Fatalf("metric %s not found", name)
	return 0
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	c, reg := mustOpen(t, filepath.Join(t.TempDir(), "catalog.db"), -1)
	tn, err := c.Create(ctx, catalog.Tenant{Host: "client1", Name: "Client One", CountryCode: "gh", CustomDomain: "Bank.Example.org"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Hits", func(t *testing.T) {
		for range 5 {
			got, err := c.FindByHost(ctx, "client1")
			if err != nil || got.ID != tn.ID {
				t.Fatalf("got %+v, %v", got, err)
			}
		}
		if misses, hits := counter(t, reg, "tenantgate_catalog_cache_misses_total"), counter(t, reg, "tenantgate_catalog_cache_hits_total"); misses != 1 || hits != 4 {
			t.Fatalf("misses %v hits %v, want 1 and 4", misses, hits)
		}
		if got, err := c.FindByDomain(ctx, "bank.example.org"); err != nil || got.ID != tn.ID {
			t.Fatalf("by domain: %+v, %v", got, err)
		}
	})
	t.Run("Negative", func(t *testing.T) {
		before := counter(t, reg, "tenantgate_catalog_lookup_duration_seconds")
		for range 10 {
			if _, err := c.FindByHost(ctx, "ghost"); !errors.Is(err, catalog.ErrTenantNotFound) {
				t.Fatalf("err = %v", err)
			}
		}
		if q := counter(t, reg, "tenantgate_catalog_lookup_duration_seconds") - before; q != 1 {
			t.Fatalf("%v catalog queries for 10 lookups of an unknown host, want 1", q)
		}
		if n := counter(t, reg, "tenantgate_catalog_cache_negative_hits_total"); n != 9 {
			t.Fatalf("negative hits %v, want 9", n)
		}
	})
	t.Run("SingleFlight", func(t *testing.T) {
		if _, err := c.Create(ctx, catalog.Tenant{Host: "busy", Name: "Busy", CountryCode: "KE"}); err != nil {
			t.Fatal(err)
		}
		before := counter(t, reg, "tenantgate_catalog_lookup_duration_seconds")
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := c.FindByHost(ctx, "busy"); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if q := counter(t, reg, "tenantgate_catalog_lookup_duration_seconds") - before; q > 2 {
			t.Fatalf("%v catalog queries for 100 concurrent misses, want 1", q)
		}
	})
	t.Run("OwnChangeAppliesAtOnce", func(t *testing.T) {
		s := catalog.StatusSuspended
		if _, err := c.Update(ctx, tn.ID, catalog.Update{Status: &s}); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.FindByHost(ctx, "client1"); got.Status != catalog.StatusSuspended {
			t.Fatalf("status %q right after update", got.Status)
		}
		if _, err := c.Create(ctx, catalog.Tenant{Host: "ghost", Name: "Ghost", CountryCode: "NG"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.FindByHost(ctx, "ghost"); err != nil {
			t.Fatalf("negatively cached host still unknown after create: %v", err)
		}
	})
}

// A change made by another process sharing the catalog (the CLI) reaches a
// server's cache within about a second, even for cached and negatively
// cached hosts.
func TestCrossProcessInvalidation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	server, _ := mustOpen(t, path, 100*time.Millisecond)
	cli, _ := mustOpen(t, path, -1)

	tn, err := cli.Create(ctx, catalog.Tenant{Host: "client1", Name: "Client One", CountryCode: "GH"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.FindByHost(ctx, "client1"); err != nil { // now cached
		t.Fatal(err)
	}
	if _, err := server.FindByHost(ctx, "late"); !errors.Is(err, catalog.ErrTenantNotFound) { // negatively cached
		t.Fatal(err)
	}
	s := catalog.StatusSuspended
	if _, err := cli.Update(ctx, tn.ID, catalog.Update{Status: &s}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Create(ctx, catalog.Tenant{Host: "late", Name: "Late", CountryCode: "KE"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 1500*time.Millisecond, func() bool {
		got, err := server.FindByHost(ctx, "client1")
		return err == nil && got.Status == catalog.StatusSuspended
	})
	eventually(t, 1500*time.Millisecond, func() bool {
		_, err := server.FindByHost(ctx, "late")
		return err == nil
	})
	if _, err := cli.Delete(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 1500*time.Millisecond, func() bool {
		_, err := server.FindByHost(ctx, "client1")
		return errors.Is(err, catalog.ErrTenantNotFound)
	})
}

func eventually(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Client1.MicroFi.com", "client1.microfi.com"},
		{"client1.microfi.com:8080", "client1.microfi.com"},
		{"client1.microfi.com.", "client1.microfi.com"},
		{"CLIENT1.microfi.com.:443", "client1.microfi.com"},
		{"", ""}, {":80", ""}, {"a_b.com", ""}, {"-a.com", ""}, {"a..com", ""},
		{"[::1]:80", ""}, {"host:port", ""}, {"a.com:99999999", ""}, {"é.com", ""},
	}
	for _, tt := range tests {
		got, err := catalog.NormalizeHost(tt.in)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNamesMustDisplaySafely(t *testing.T) {
	c, _ := mustOpen(t, filepath.Join(t.TempDir(), "catalog.db"), -1)
	for i, name := range []string{"Evil\u202Egnp.exe", "Nul\x00Bank", "Two\nLines", "Isolate\u2067x"} {
		_, err := c.Create(context.Background(), catalog.Tenant{Host: "n" + string(rune('a'+i)), Name: name, CountryCode: "GH"})
		if !errors.Is(err, catalog.ErrInvalidTenant) {
			t.Errorf("name %q: err = %v, want ErrInvalidTenant", name, err)
		}
	}
	if _, err := c.Create(context.Background(), catalog.Tenant{Host: "ok", Name: "Société Générale 合作社", CountryCode: "GH"}); err != nil {
		t.Fatalf("accented and CJK name refused: %v", err)
	}
}

// A burst of cache misses for different tenants (every tenant's first
// request after a start) is served by a few catalog connections that stay
// open: before, each miss opened (and closed) a connection of its own,
// parsing the catalog schema each time, and the CPU that took collapsed a
// proxy with 10,000 tenants.
func TestCacheMissBurstReusesConnections(t *testing.T) {
	ctx := context.Background()
	c, _ := mustOpen(t, filepath.Join(t.TempDir(), "catalog.db"), -1)
	const n = 200
	for i := range n {
		if _, err := c.Create(ctx, catalog.Tenant{Host: fmt.Sprintf("burst%03d", i), Name: "Burst", CountryCode: "KE"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := c.FindByHost(ctx, fmt.Sprintf("burst%03d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	st := c.LookupStats()
	if st.MaxOpenConnections != catalog.LookupConns || st.OpenConnections > catalog.LookupConns || st.MaxIdleClosed != 0 {
		t.Fatalf("lookup pool after %d concurrent misses: %+v; want at most %d connections, none closed for lack of idle room", n, st, catalog.LookupConns)
	}
}

// A local catalog file's caches are kept when the change poll falls
// behind (here: StaleAfter shorter than the poll interval, so every poll
// is "late"): for a local file that means an overloaded process, and
// dropping the caches turned every request into a miss. Readiness still
// reports it (Stale).
func TestLocalCatalogKeepsCachesWhenStale(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	c, err := catalog.Open(ctx, "file:"+filepath.Join(t.TempDir(), "catalog.db"), catalog.Options{Registerer: reg, Logger: quiet,
		PollInterval: 10 * time.Millisecond, StaleAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Create(ctx, catalog.Tenant{Host: "kept", Name: "Kept", CountryCode: "KE"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the poller has applied the creation
	if _, err := c.FindByHost(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // several polls, each stale
	misses := counter(t, reg, "tenantgate_catalog_cache_misses_total")
	if _, err := c.FindByHost(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, reg, "tenantgate_catalog_cache_misses_total"); got != misses {
		t.Fatalf("the cache was dropped: misses %v -> %v", misses, got)
	}
	if n := counter(t, reg, "tenantgate_catalog_stale_purges_total"); n != 0 {
		t.Fatalf("stale purges %v, want 0 for a local catalog", n)
	}
	if !c.Stale() {
		t.Fatal("Stale() = false; readiness must still see the late poll")
	}
}

package tenants_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard"
)

// env is a tenant service over a real catalog file and data dir.
type env struct {
	svc    *tenants.Service
	cat    *catalog.Catalog
	shards *shard.Manager
	dir    string
	mu     sync.Mutex
	now    time.Time // the service's clock
}

func newEnv(t *testing.T, configure ...func(*tenants.Options)) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat, err := catalog.Open(context.Background(), "file:"+filepath.Join(e.dir, "catalog.db"), catalog.Options{PollInterval: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	shards := shard.NewManager(shard.Config{DataDir: e.dir, Logger: log})
	t.Cleanup(func() { shards.Close(); cat.Close() })
	opts := tenants.Options{Catalog: cat, Shards: shards, Logger: log, RootDomain: "microfi.test", Now: e.clock}
	for _, c := range configure {
		c(&opts)
	}
	e.svc, e.cat, e.shards = tenants.New(opts), cat, shards
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) setClock(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

func (e *env) create(t *testing.T, host string) catalog.Tenant {
	t.Helper()
	tn, err := e.svc.Create(context.Background(), tenants.CreateRequest{Host: host, Name: "Tenant " + host, Country: "GH"})
	if err != nil {
		t.Fatalf("create %s: %v", host, err)
	}
	return tn
}

// demo creates a demo that expires at expires (by the service's clock).
func (e *env) demo(t *testing.T, expires time.Time) catalog.Tenant {
	t.Helper()
	saved := e.clock()
	e.setClock(expires.Add(-time.Hour))
	defer e.setClock(saved)
	tn, err := e.svc.CreateDemo(context.Background(), tenants.DemoRequest{Country: "GH", TTL: time.Hour})
	if err != nil {
		t.Fatalf("create demo: %v", err)
	}
	return tn
}

func ptr[T any](v T) *T { return &v }

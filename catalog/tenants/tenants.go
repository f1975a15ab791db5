// Package tenants is the tenant service: every change to a tenant — create,
// update, suspend, resume, make permanent, delete, reap — goes through one
// validated, atomic command here, for every door (the CLI, the admin API,
// signup, demos and the reaper). It owns the tenant rules (rules.go),
// crash-consistent provisioning (create.go) and start-up reconciliation of
// what a crash left behind (reconcile.go).
package tenants

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/shards"
	"github.com/microfi/tenantgate/shard"
)

// Options configures a Service. Catalog and Shards are required.
type Options struct {
	Catalog *catalog.Catalog
	Shards  *shard.Manager
	// RootDomain is the platform's root domain: custom domains may not be
	// it or under it. "" skips that check (tools without a domain).
	RootDomain string
	Logger     *slog.Logger
	Now        func() time.Time // clock; nil = time.Now
	// Hook, when set, is called at each provisioning step ("inserted",
	// "building", "built", "finished"); crash tests stop a process there.
	Hook func(step string)
	// Placement places new tenants and creates their databases on remote
	// shards; nil = a registry over Catalog.
	Placement *shards.Registry
	// DataDir is where moves keep their working snapshots ("" = the parent
	// of the shard manager's tenants directory).
	DataDir string
}

// Service applies tenant commands. It starts nothing and holds nothing
// open beyond what Catalog and Shards own.
type Service struct {
	cat      *catalog.Catalog
	shards   *shard.Manager
	root     string
	log      *slog.Logger
	now      func() time.Time
	hook     func(string)
	dataDir  string // parent of the tenants directory
	hostname string
	reg      *shards.Registry
}

// New returns a Service over the catalog and shard manager.
func New(opts Options) *Service {
	s := &Service{cat: opts.Catalog, shards: opts.Shards, root: opts.RootDomain,
		log: opts.Logger, now: opts.Now, hook: opts.Hook}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hook == nil {
		s.hook = func(string) {}
	}
	s.dataDir = filepath.Dir(s.tenantsDir())
	if opts.DataDir != "" {
		s.dataDir = opts.DataDir
	}
	s.reg = opts.Placement
	if s.reg == nil {
		s.reg = shards.New(opts.Catalog)
	}
	s.hostname, _ = os.Hostname()
	return s
}

// Placement is the shard registry the service places tenants with.
func (s *Service) Placement() *shards.Registry { return s.reg }

// Catalog is the catalog the service writes.
func (s *Service) Catalog() *catalog.Catalog { return s.cat }

// tenantsDir is where local tenant databases live by default.
func (s *Service) tenantsDir() string { return filepath.Dir(s.shards.Path(0)) }

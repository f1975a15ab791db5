// Package stack assembles tenantgate's object graph: the catalog, the shard
// manager, the provisioner, the HTTPS edge and the proxy. `tenantgate serve` and the test
// harness (proxy/proxytest) both build it here, so they cannot drift.
//
// Build constructs and starts nothing; Start launches every background
// goroutine; Close stops them in order (proxy, then databases) and waits.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/provision"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/tlsedge"
	"github.com/microfi/tenantgate/shard"
)

// PruneInterval is how often the catalog's change log is pruned.
const PruneInterval = 10 * time.Minute

// Config is what the graph needs. Proxy's Catalog, Shards, Provisioner,
// Registerer, Gatherer and Logger are filled in by Build.
type Config struct {
	DataDir    string
	CatalogURL string // "" = file:<DataDir>/catalog.db
	Catalog    catalog.Options
	Shards     shard.Config // DataDir defaults to DataDir
	Proxy      proxy.Config
	// TLS, if set, builds the HTTPS edge (its certificates live in the
	// catalog); the proxy serves it and Close closes it.
	TLS      func(*catalog.Catalog) (*tlsedge.Edge, error)
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// Stack is the assembled graph.
type Stack struct {
	Catalog     *catalog.Catalog
	Shards      *shard.Manager
	Provisioner *provision.Provisioner
	Proxy       *proxy.Server
	Edge        *tlsedge.Edge // nil without TLS

	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Build opens the catalog and wires the rest; it starts nothing. On
// failure what it opened is closed again.
func Build(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.CatalogURL == "" {
		cfg.CatalogURL = "file:" + filepath.Join(cfg.DataDir, "catalog.db")
	}
	if cfg.Shards.DataDir == "" {
		cfg.Shards.DataDir = cfg.DataDir
	}
	cfg.Catalog.Registerer, cfg.Catalog.Logger = cfg.Registry, cfg.Logger
	cfg.Shards.Registerer, cfg.Shards.Logger = cfg.Registry, cfg.Logger

	cat, err := catalog.Open(ctx, cfg.CatalogURL, cfg.Catalog)
	if err != nil {
		return nil, err
	}
	var edge *tlsedge.Edge
	if cfg.TLS != nil {
		if edge, err = cfg.TLS(cat); err != nil {
			cat.Close()
			return nil, err
		}
	}
	shards := shard.NewManager(cfg.Shards)
	prov := &provision.Provisioner{Catalog: cat, Shards: shards, Logger: cfg.Logger}
	pc := cfg.Proxy
	pc.Catalog, pc.Shards, pc.Provisioner, pc.TLS = cat, shards, prov, edge
	pc.Registerer, pc.Gatherer, pc.Logger = cfg.Registry, cfg.Registry, cfg.Logger
	srv, err := proxy.New(pc)
	if err != nil {
		if edge != nil {
			edge.Close()
		}
		shards.Close()
		cat.Close()
		return nil, fmt.Errorf("build proxy: %w", err)
	}
	return &Stack{Catalog: cat, Shards: shards, Provisioner: prov, Proxy: srv, Edge: edge, log: cfg.Logger}, nil
}

// Start launches the background work of every part: the TLS edge's
// (checked first: a wrong storage key fails here), the shard manager's
// janitor, the proxy's (stream expiry, demo reaper, tenant series) and the
// catalog change-log pruning. Serving is the caller's (Proxy.Serve).
func (s *Stack) Start(ctx context.Context) error {
	if s.Edge != nil {
		if err := s.Edge.Start(ctx); err != nil {
			return fmt.Errorf("start TLS: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.Shards.Start()
	s.Proxy.Start()
	s.wg.Go(func() {
		t := time.NewTicker(PruneInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Catalog.PruneChanges(ctx); err != nil {
					s.log.Warn("prune catalog change log", "err", err)
				}
			}
		}
	})
	return nil
}

// Close drains the proxy (until ctx ends), stops the background work and
// waits for it, then closes the tenant databases and the catalog. Later
// calls return the first call's result.
func (s *Stack) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		err := s.Proxy.Shutdown(ctx)
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		if s.Edge != nil {
			s.Edge.Close()
		}
		s.Shards.Close()
		s.closeErr = errors.Join(err, s.Catalog.Close())
	})
	return s.closeErr
}

package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard"
)

// catalogURL is the catalog location: the flag if set, else the data dir's file.
func catalogURL(dataDir, given string) string {
	if given != "" {
		return given
	}
	return "file:" + filepath.Join(dataDir, "catalog.db")
}

// tools is what the operator commands use: the catalog (no cache poller),
// the shard manager and the tenant service over them.
type tools struct {
	catalog *catalog.Catalog
	shards  *shard.Manager
	tenants *tenants.Service
}

// provisionHook is the tenant service's step hook; nil except in the
// crash tests, which stop a real `tenants create` process at each step.
var provisionHook func(step string)

// openTools opens the catalog and a shard manager for a one-shot command.
func openTools(ctx context.Context, dataDir, catURL string) (*tools, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat, err := catalog.Open(ctx, catalogURL(dataDir, catURL), catalog.Options{PollInterval: -1, Logger: quiet})
	if err != nil {
		return nil, err
	}
	shards := shard.NewManager(shard.Config{DataDir: dataDir, MaxOpen: 64, Logger: quiet})
	svc := tenants.New(tenants.Options{Catalog: cat, Shards: shards, Logger: quiet, Hook: provisionHook})
	return &tools{catalog: cat, shards: shards, tenants: svc}, nil
}

// Close closes the shard manager and the catalog.
func (t *tools) Close() {
	t.shards.Close()
	t.catalog.Close()
}

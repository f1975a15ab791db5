package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/storage"
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

// moveHook is the move's step hook (tenants.MoveOptions.Hook); nil except
// in the kill tests.
var moveHook func(step string)

// openExisting opens the tools of a command that reads or changes existing
// state: a local catalog that is not there is an error (a wrong --data-dir),
// never a new empty catalog.
func openExisting(ctx context.Context, dataDir, catURL string) (*tools, error) {
	if err := requireCatalog(dataDir, catURL); err != nil {
		return nil, err
	}
	return openTools(ctx, dataDir, catURL)
}

// requireCatalog fails when the local catalog file does not exist.
func requireCatalog(dataDir, catURL string) error {
	url := catalogURL(dataDir, catURL)
	if storage.IsRemote(url) {
		return nil
	}
	path, err := storage.LocalPath(url)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if catURL != "" {
			return fmt.Errorf("no catalog at %s; pass the --catalog-url of an existing catalog (tenantgate serve or tenants create make one)", path)
		}
		return fmt.Errorf("no catalog.db in %s; pass --data-dir or --catalog-url (tenantgate serve or tenants create make one)", dataDir)
	} else if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// openTools opens the catalog and a shard manager for a one-shot command,
// creating the data dir and an empty catalog if needed (serve and the
// explicit creation commands only; the rest use openExisting).
func openTools(ctx context.Context, dataDir, catURL string) (*tools, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
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

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/transfer"
)

// runBackup writes a consistent snapshot of one tenant (--tenant, --out
// FILE) or of every tenant (--all, --out DIR, one <id>.db per tenant).
func runBackup(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("backup")
	tenant := f.String("tenant", "", "the tenant to back up (host or id)")
	all := f.Bool("all", false, "back up every tenant into --out DIR as <id>.db")
	out := f.String("out", "", "output file (--tenant) or directory (--all); never overwritten")
	concurrency := f.Int("concurrency", 4, "with --all: snapshots taken at once")
	catURL := f.String("catalog-url", "", "catalog database URL")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return errUsage(fmt.Sprintf("unexpected argument %q", f.Arg(0)))
	case (*tenant == "") == !*all:
		return errUsage("give exactly one of --tenant HOST_OR_ID or --all")
	case *out == "":
		return errUsage("--out is required")
	case *concurrency < 1:
		return errUsage("--concurrency must be at least 1")
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()

	if !*all {
		tn, err := t.catalog.Resolve(ctx, *tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", *tenant, err)
		}
		snap, err := transfer.Backup(ctx, t.shards.URL(tn.ID, tn.DBURL), tn.ID, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "tenant %d (%s): %s, schema version %d, %d bytes, integrity ok\n", tn.ID, tn.Host, snap.Path, snap.Version, snap.Bytes)
		return nil
	}

	tenants, err := allTenants(ctx, t.catalog)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	start := time.Now()
	errs := make([]error, len(tenants))
	snaps := make([]transfer.Snapshot, len(tenants))
	sem := make(chan struct{}, *concurrency)
	var wg sync.WaitGroup
	for i, tn := range tenants {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			dst := filepath.Join(*out, strconv.FormatInt(tn.ID, 10)+".db")
			snaps[i], errs[i] = transfer.Backup(ctx, t.shards.URL(tn.ID, tn.DBURL), tn.ID, dst)
		}()
	}
	wg.Wait()
	var failed []error
	var bytes int64
	for i, tn := range tenants {
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("tenant %d (%s): %w", tn.ID, tn.Host, errs[i]))
			fmt.Fprintf(env.Stdout, "tenant %d (%s): FAILED: %v\n", tn.ID, tn.Host, errs[i])
			continue
		}
		bytes += snaps[i].Bytes
		fmt.Fprintf(env.Stdout, "tenant %d (%s): %s, schema version %d, %d bytes\n", tn.ID, tn.Host, snaps[i].Path, snaps[i].Version, snaps[i].Bytes)
	}
	fmt.Fprintf(env.Stdout, "backed up %d of %d tenants (%d bytes) into %s in %s; each snapshot is consistent for its tenant\n",
		len(tenants)-len(failed), len(tenants), bytes, *out, time.Since(start).Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("%d tenant backups failed: %w", len(failed), errors.Join(failed...))
	}
	return nil
}

// runRestore replaces a tenant's database content with a snapshot, after
// checking the snapshot's integrity, tenant stamp and schema.
func runRestore(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("restore")
	tenant := f.String("tenant", "", "the tenant to restore (host or id)")
	from := f.String("from", "", "snapshot file written by `tenantgate backup` (opened read-only)")
	catURL := f.String("catalog-url", "", "catalog database URL")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return errUsage(fmt.Sprintf("unexpected argument %q", f.Arg(0)))
	case *tenant == "" || *from == "":
		return errUsage("--tenant HOST_OR_ID and --from FILE are required")
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	tn, err := t.catalog.Resolve(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("tenant %q: %w", *tenant, err)
	}
	return restoreTenant(ctx, env, t, tn, *from)
}

func restoreTenant(ctx context.Context, env *Env, t *tools, tn catalog.Tenant, from string) error {
	snap, err := transfer.Restore(ctx, from, tn.ID, t.shards.URL(tn.ID, tn.DBURL), migrations.Tenant)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "tenant %d (%s): restored from %s; schema version %d, integrity ok\n", tn.ID, tn.Host, from, snap.Version)
	fmt.Fprintln(env.Stdout, "a running server sees the restored data from its next transaction; writes made after the snapshot are gone")
	return nil
}

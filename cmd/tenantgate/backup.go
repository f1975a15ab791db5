package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/transfer"
)

// backupStamp names a backup by when it was taken (UTC, sorts by time).
const backupStamp = "20060102T150405Z"

// runBackup writes a consistent snapshot of one tenant (--tenant, --out
// FILE or DIR) or of every tenant (--all, --out DIR, into a new dated
// folder per run so a nightly job never collides with the last one).
func runBackup(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("backup")
	tenant := f.String("tenant", "", "back up one tenant, by `HOST_OR_ID`")
	all := f.Bool("all", false, "back up every tenant into a new folder --out DIR/<UTC time>/, one <id>.db per tenant")
	out := f.String("out", "", "write to `PATH`: with --tenant a new file, or an existing directory that gets <id>-<host>-<UTC time>.db; with --all a directory (created if missing). Never overwrites")
	concurrency := f.Int("concurrency", 4, "with --all: take `N` snapshots at once")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return errUsage(fmt.Sprintf("backup: unexpected argument %q", f.Arg(0)))
	case (*tenant == "") == !*all:
		return errUsage("backup: give exactly one of --tenant HOST_OR_ID or --all")
	case *out == "":
		return errUsage("backup: --out is required")
	case *concurrency < 1:
		return errUsage("backup: --concurrency must be at least 1")
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	now := time.Now().UTC()

	if !*all {
		tn, err := t.catalog.Resolve(ctx, *tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", *tenant, err)
		}
		dst := *out
		if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
			dst = filepath.Join(dst, fmt.Sprintf("%d-%s-%s.db", tn.ID, tn.Host, now.Format(backupStamp)))
		}
		snap, err := transfer.Backup(ctx, t.shards.URL(tn.ID, tn.DBURL), tn.ID, dst)
		if errors.Is(err, transfer.ErrExists) {
			return fmt.Errorf("%s already exists and is never overwritten; give a new file name or a directory", dst)
		}
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
	set, err := newBackupSet(*out, now)
	if err != nil {
		return err
	}
	start := time.Now()
	errs := make([]error, len(tenants))
	snaps := make([]transfer.Snapshot, len(tenants))
	var g errgroup.Group
	g.SetLimit(*concurrency)
	for i, tn := range tenants {
		g.Go(func() error {
			dst := filepath.Join(set, strconv.FormatInt(tn.ID, 10)+".db")
			snaps[i], errs[i] = transfer.Backup(ctx, t.shards.URL(tn.ID, tn.DBURL), tn.ID, dst)
			return nil
		})
	}
	_ = g.Wait() // per-tenant errors are in errs
	failed := 0
	var bytes int64
	for i, tn := range tenants {
		if errs[i] != nil {
			failed++
			fmt.Fprintf(env.Stderr, "tenant %d (%s): backup failed: %v\n", tn.ID, tn.Host, errs[i])
			continue
		}
		bytes += snaps[i].Bytes
		fmt.Fprintf(env.Stdout, "tenant %d (%s): %s, schema version %d, %d bytes\n", tn.ID, tn.Host, snaps[i].Path, snaps[i].Version, snaps[i].Bytes)
	}
	ok := len(tenants) - failed
	elapsed := time.Since(start).Round(time.Millisecond)
	switch {
	case len(tenants) == 0:
		fmt.Fprintf(env.Stdout, "no tenants in the catalog; %s is empty\n", set)
	case failed == 0:
		fmt.Fprintf(env.Stdout, "backed up all %d tenants (%d bytes) into %s in %s; each snapshot is consistent for its own tenant\n", ok, bytes, set, elapsed)
	default:
		fmt.Fprintf(env.Stdout, "backed up %d of %d tenants (%d bytes) into %s in %s; %d failed (listed on stderr), so this set is incomplete\n", ok, len(tenants), bytes, set, elapsed, failed)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tenant backups failed", failed, len(tenants))
	}
	return nil
}

// newBackupSet creates a new folder DIR/<UTC time> for one backup --all
// run (DIR/<UTC time>-2 … if two runs share a second), so runs never mix
// or collide.
func newBackupSet(dir string, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	base := filepath.Join(dir, now.Format(backupStamp))
	for i := 1; i <= 100; i++ {
		set := base
		if i > 1 {
			set = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(set, 0o755)
		if err == nil {
			return set, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create backup folder: %w", err)
		}
	}
	return "", fmt.Errorf("create backup folder: %s-2 … -100 all exist", base)
}

// runRestore replaces a tenant's database content with a snapshot, after
// checking the snapshot's integrity, tenant stamp and schema.
func runRestore(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("restore")
	tenant := f.String("tenant", "", "restore one tenant, by `HOST_OR_ID`")
	from := f.String("from", "", "snapshot `FILE` written by tenantgate backup (opened read-only)")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return errUsage(fmt.Sprintf("restore: unexpected argument %q", f.Arg(0)))
	case *tenant == "" || *from == "":
		return errUsage("restore: --tenant HOST_OR_ID and --from FILE are required")
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
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
	if err := refuseMoving(ctx, t, tn); err != nil {
		return err
	}
	snap, err := transfer.Restore(ctx, from, tn.ID, t.shards.URL(tn.ID, tn.DBURL), migrations.Tenant)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "tenant %d (%s): restored from %s; schema version %d, integrity ok\n", tn.ID, tn.Host, from, snap.Version)
	fmt.Fprintln(env.Stdout, "a running server sees the restored data from its next transaction; writes made after the snapshot are gone")
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
	"github.com/microfi/tenantgate/shard/storage"
)

// runMigrate brings the catalog and every tenant database to the newest
// schema (`migrate`), or reports versions (`migrate status`).
func runMigrate(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "status" {
		return migrateStatus(ctx, env, args[1:])
	}
	f := env.flagSet("migrate")
	f.extra = "Subcommands:\n  status   " + docs["migrate status"].summary
	concurrency := f.Int("concurrency", fleet.DefaultConcurrency, "migrate `N` tenant databases at once")
	dryRun := f.Bool("dry-run", false, "apply each tenant's pending migrations in a rolled-back transaction and report what would fail")
	only := f.String("tenant", "", "migrate only this tenant (`HOST_OR_ID`)")
	backupDir := f.String("backup-dir", "", "snapshot each tenant to `DIR`/<id>.v<version>.db before migrating it")
	every := f.Int("progress-every", 0, "when output is not a terminal, print a progress line every `N` tenants (default: about every 5%)")
	catURL := f.catalogURL()
	force := f.Bool("force", false, "migrate even past the tenant schema a live proxy can serve (those proxies answer 503 for the tenants it migrates until they are upgraded)")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return errUsage(fmt.Sprintf("migrate: unexpected argument %q (did you mean tenantgate migrate status?)", f.Arg(0)))
	}
	if *concurrency < 1 {
		return errUsage("migrate: --concurrency must be at least 1")
	}
	return migrateFleet(ctx, env, f.DataDir(), *catURL, *only, fleet.Options{
		Set: migrations.Tenant, Concurrency: *concurrency, DryRun: *dryRun, BackupDir: *backupDir,
	}, *every, *force)
}

// migrateFleet is runMigrate after flag parsing; tests call it with their
// own migration set.
func migrateFleet(ctx context.Context, env *Env, dataDir, catURL, only string, opts fleet.Options, every int, force bool) error {
	catBefore, err := catalogVersion(ctx, catalogURL(dataDir, catURL))
	if err != nil {
		return err
	}
	t, err := openExisting(ctx, dataDir, catURL) // opening the catalog migrates it
	if err != nil {
		return err
	}
	defer t.Close()
	if after := migrations.Catalog.Latest(); catBefore < after {
		fmt.Fprintf(env.Stdout, "catalog: migrated from version %d to %d\n", catBefore, after)
	} else {
		fmt.Fprintf(env.Stdout, "catalog: version %d, current\n", catBefore)
	}
	if err := checkFleetServes(ctx, env, t.catalog, opts.Set, force || opts.DryRun); err != nil {
		return err
	}
	targets, err := fleetTargets(ctx, t, only)
	if err != nil {
		return err
	}
	mode := ""
	if opts.DryRun {
		mode = " (dry run: nothing is changed)"
	}
	newest := opts.Set.Migrations[len(opts.Set.Migrations)-1]
	fmt.Fprintf(env.Stdout, "tenants: checking %d databases against version %d (%04d_%s), %d at a time%s\n",
		len(targets), newest.Version, newest.Version, newest.Name, opts.Concurrency, mode)
	bar := newProgress(env.Stdout, len(targets), every)
	if opts.DryRun {
		bar.verb = "would migrate"
	}
	opts.Progress = bar.update
	sum, runErr := fleet.Run(ctx, targets, opts)
	bar.finish()
	printSummary(env.Stdout, sum)
	if runErr != nil {
		return fmt.Errorf("%w; rerun `tenantgate migrate` to finish (applied migrations are not repeated)", runErr)
	}
	if sum.Failed > 0 {
		verb := "failed"
		if opts.DryRun {
			verb = "would fail"
		}
		return fmt.Errorf("%d of %d tenant databases %s", sum.Failed, len(targets), verb)
	}
	switch {
	case sum.Migrated == 0:
		fmt.Fprintf(env.Stdout, "nothing to do: every tenant database is already on version %d\n", newest.Version)
	case opts.DryRun:
		fmt.Fprintf(env.Stdout, "dry run: %d tenant databases would migrate cleanly; nothing was changed\n", sum.Migrated)
	}
	return nil
}

// catalogVersion is the catalog's schema version before this command
// touches it (0 for a catalog that does not exist yet).
func catalogVersion(ctx context.Context, url string) (int, error) {
	if !storage.IsRemote(url) {
		path, err := storage.LocalPath(url)
		if err != nil {
			return 0, err
		}
		if _, err := os.Stat(path); err != nil {
			return 0, nil
		}
	}
	db, err := storage.Open(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("open catalog: %w", err)
	}
	defer db.Close()
	return migrations.Version(ctx, db)
}

// fleetTargets lists every tenant in the catalog (or just `only`) as plain
// fleet targets.
func fleetTargets(ctx context.Context, t *tools, only string) ([]fleet.Target, error) {
	target := func(tn catalog.Tenant) fleet.Target {
		return fleet.Target{ID: tn.ID, Host: tn.Host, URL: t.shards.URL(tn.ID, tn.DBURL)}
	}
	if only != "" {
		tn, err := t.catalog.Resolve(ctx, only)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", only, err)
		}
		return []fleet.Target{target(tn)}, nil
	}
	tenants, err := allTenants(ctx, t.catalog)
	if err != nil {
		return nil, err
	}
	out := make([]fleet.Target, len(tenants))
	for i, tn := range tenants {
		out[i] = target(tn)
	}
	return out, nil
}

// allTenants pages through the whole catalog.
func allTenants(ctx context.Context, cat *catalog.Catalog) ([]catalog.Tenant, error) {
	var all []catalog.Tenant
	for offset := 0; ; {
		page, total, err := cat.List(ctx, catalog.ListOptions{Limit: 500, Offset: offset})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		offset += len(page)
		if len(page) == 0 || offset >= total {
			return all, nil
		}
	}
}

func printSummary(w io.Writer, sum fleet.Summary) {
	verb := "migrated"
	if sum.DryRun {
		verb = "would migrate"
	}
	fmt.Fprintf(w, "done in %s:\n", sum.Elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s\t%d\n", verb, sum.Migrated)
	fmt.Fprintf(tw, "  already current\t%d\n", sum.Current)
	fmt.Fprintf(tw, "  failed\t%d\n", sum.Failed)
	if sum.Skipped > 0 {
		fmt.Fprintf(tw, "  not attempted (interrupted)\t%d\n", sum.Skipped)
	}
	tw.Flush()
	if failed := sum.FailedResults(); len(failed) > 0 {
		fmt.Fprintln(w, "failed tenants (left on their last good version):")
		for _, r := range failed {
			fmt.Fprintf(w, "  tenant %s at version %d: %v\n", r.Target, r.To, r.Err)
		}
	}
}

// progress draws a bar on a terminal and a plain line every N tenants
// otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	every int
	total int
	verb  string // "migrated", or "would migrate" in a dry run
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, total, every int) *progress {
	if every <= 0 {
		every = max(1, total/20)
	}
	return &progress{w: w, tty: isTerminal(w), every: every, total: total, verb: "migrated"}
}

func (p *progress) update(s fleet.Progress) {
	if p.tty {
		// Redraw at most 20 times a second, and always at the end.
		if s.Done < s.Total && time.Since(p.last) < 50*time.Millisecond {
			return
		}
		p.last = time.Now()
		const width = 30
		filled := width * s.Done / max(s.Total, 1)
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d  %s %d  current %d  failed %d  %s ",
			strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			s.Done, s.Total, p.verb, s.Migrated, s.Current, s.Failed, s.Elapsed.Round(100*time.Millisecond))
		p.drawn = true
		return
	}
	if s.Done%p.every == 0 || s.Done == s.Total {
		fmt.Fprintf(p.w, "progress: %d/%d tenants (%s %d, current %d, failed %d) %s\n",
			s.Done, s.Total, p.verb, s.Migrated, s.Current, s.Failed, s.Elapsed.Round(time.Millisecond))
	}
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// migrateStatus prints the version histogram and the tenants behind.
func migrateStatus(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("migrate status")
	concurrency := f.Int("concurrency", fleet.DefaultConcurrency, "read `N` tenant databases at once")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return errUsage(fmt.Sprintf("migrate status: unexpected argument %q", f.Arg(0)))
	}
	return fleetStatus(ctx, env, f.DataDir(), *catURL, migrations.Tenant, *concurrency)
}

func fleetStatus(ctx context.Context, env *Env, dataDir, catURL string, set migrations.Set, concurrency int) error {
	catVersion, err := catalogVersion(ctx, catalogURL(dataDir, catURL))
	if err != nil {
		return err
	}
	t, err := openExisting(ctx, dataDir, catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	targets, err := fleetTargets(ctx, t, "")
	if err != nil {
		return err
	}
	rep, err := fleet.Status(ctx, targets, set, concurrency)
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "catalog: version %d of %d\n", catVersion, migrations.Catalog.Latest())
	fmt.Fprintf(w, "tenants: %d, newest tenant schema version %d\n", len(targets), rep.Latest)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "version\ttenants\t")
	for _, v := range rep.Versions() {
		fmt.Fprintf(tw, "%d\t%d\t\n", v, rep.Histogram[v])
	}
	if n := len(rep.Errors()); n > 0 {
		fmt.Fprintf(tw, "unreadable\t%d\t\n", n)
	}
	tw.Flush()
	if behind := rep.Behind(); len(behind) > 0 {
		fmt.Fprintf(w, "not on the newest version (%d):\n", len(behind))
		for _, tv := range behind {
			fmt.Fprintf(w, "  tenant %s: version %d, %d pending\n", tv.Target, tv.Version, tv.Pending)
		}
	} else if len(rep.Errors()) == 0 {
		fmt.Fprintln(w, "every tenant is on the newest version")
	}
	if errs := rep.Errors(); len(errs) > 0 {
		fmt.Fprintf(w, "errors (%d):\n", len(errs))
		for _, tv := range errs {
			fmt.Fprintf(w, "  tenant %s: %v\n", tv.Target, tv.Err)
		}
	}
	// A non-zero exit lets a deploy script gate on a current fleet.
	if behind, bad := len(rep.Behind()), len(rep.Errors()); behind > 0 || bad > 0 {
		return fmt.Errorf("migrate status: %d of %d tenants behind and %d unreadable; run tenantgate migrate", behind, len(targets), bad)
	}
	return nil
}

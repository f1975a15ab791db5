package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/shards"
	"github.com/microfi/tenantgate/catalog/tenants"
)

var shardsSubcommands = []string{"add", "list", "drain", "resume", "remove"}

// runShards dispatches shards add|list|drain|resume|remove.
func runShards(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		printGroupHelp(env.Stdout, "shards", shardsSubcommands)
		return nil
	}
	if len(args) == 0 {
		return errUsage("shards: a subcommand is required: " + strings.Join(shardsSubcommands, ", ") + " (see tenantgate shards --help)")
	}
	run, ok := map[string]func(context.Context, *Env, []string) error{
		"add": shardsAdd, "list": shardsList, "drain": shardsDrain, "resume": shardsResume, "remove": shardsRemove,
	}[args[0]]
	if !ok {
		return errUsage(fmt.Sprintf("shards: unknown subcommand %q: want %s (see tenantgate shards --help)", args[0], strings.Join(shardsSubcommands, ", ")))
	}
	return run(ctx, env, args[1:])
}

func shardsAdd(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("shards add")
	kind := f.String("kind", shards.KindTenantgate, "`KIND` of libSQL server: tenantgate, sqld or libsql")
	capacity := f.Int("capacity", 0, "most tenants the shard takes (`N`; 0 = unlimited)")
	weight := f.Float64("weight", 1, "share `W` of new tenants relative to other shards (0 = none)")
	admin := f.String("admin-url", "", "admin `URL` (sqld: its admin listener; tenantgate: derived from the template)")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 2 {
		return errUsage(fmt.Sprintf("shards add: NAME and URL_TEMPLATE are required, got %d arguments", f.NArg()))
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	reg := t.tenants.Placement()
	sh, err := reg.Add(ctx, catalog.Shard{Name: f.Arg(0), URLTemplate: f.Arg(1), Kind: *kind, AdminURL: *admin, Capacity: *capacity, Weight: *weight})
	if err != nil {
		return fmt.Errorf("shards add: %w", err)
	}
	h := reg.Probe(ctx, sh)
	if err := t.audit(ctx, "shard.add", 0, map[string]string{"shard": sh.Name, "kind": sh.Kind}); err != nil {
		return err
	}
	sh.URLTemplate, sh.AdminURL = shards.Redact(sh.URLTemplate), shards.Redact(sh.AdminURL)
	return printJSON(env, map[string]any{"shard": sh, "health": h})
}

// shardRow is one line of shards list.
type shardRow struct {
	catalog.ShardLoad
	Health shards.Health `json:"health"`
}

func shardsList(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("shards list")
	asJSON := f.Bool("json", false, "print JSON instead of a table")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	loads, err := t.catalog.ShardLoads(ctx)
	if err != nil {
		return err
	}
	rows := make([]shardRow, len(loads))
	var wg sync.WaitGroup
	for i, l := range loads {
		l.URLTemplate, l.AdminURL = shards.Redact(l.URLTemplate), shards.Redact(l.AdminURL)
		rows[i].ShardLoad = l
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			rows[i].Health = t.tenants.Placement().Probe(pctx, loads[i].Shard)
		})
	}
	wg.Wait()
	if *asJSON {
		return printJSON(env, rows)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tSTATUS\tTENANTS\tCAPACITY\tWEIGHT\tBYTES\tHEALTH\tLATENCY\tURL TEMPLATE")
	for _, r := range rows {
		health, lat := "ok", r.Health.Latency.Round(100*time.Microsecond).String()
		if !r.Health.OK {
			health = "down: " + r.Health.Error
		}
		capText := "-"
		if r.Capacity > 0 {
			capText = fmt.Sprint(r.Capacity)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%g\t%d\t%s\t%s\t%s\n", r.Name, r.Kind, r.Status, r.Tenants, capText, r.Weight, r.Bytes, health, lat, r.URLTemplate)
	}
	return w.Flush()
}

func shardsDrain(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("shards drain")
	concurrency := f.Int("concurrency", 2, "tenants moved at once (`N`)")
	noMove := f.Bool("no-move", false, "only stop placing new tenants there; move nobody")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errUsage("shards drain: exactly one NAME is required")
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	if *noMove {
		sh, err := t.tenants.Placement().Drain(ctx, f.Arg(0))
		if err != nil {
			return err
		}
		return printJSON(env, map[string]any{"shard": sh.Name, "status": sh.Status})
	}
	if err := t.audit(ctx, "shard.drain", 0, map[string]string{"shard": f.Arg(0)}); err != nil {
		return err
	}
	var mu sync.Mutex
	res, err := t.tenants.DrainShard(ctx, f.Arg(0), *concurrency, tenants.MoveOptions{Progress: func(step, detail string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(env.Stderr, "%-12s %s\n", step, detail)
	}})
	if perr := printJSON(env, res); err == nil {
		err = perr
	}
	return err
}

func shardsResume(ctx context.Context, env *Env, args []string) error {
	return shardsSetStatus(ctx, env, args, "shards resume", func(r *shards.Registry, name string) (catalog.Shard, error) {
		return r.Resume(ctx, name)
	})
}

func shardsSetStatus(ctx context.Context, env *Env, args []string, name string, do func(*shards.Registry, string) (catalog.Shard, error)) error {
	f := env.flagSet(name)
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errUsage(name + ": exactly one NAME is required")
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	sh, err := do(t.tenants.Placement(), f.Arg(0))
	if err != nil {
		return err
	}
	return printJSON(env, map[string]any{"shard": sh.Name, "status": sh.Status})
}

func shardsRemove(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("shards remove")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return errUsage("shards remove: exactly one NAME is required")
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.tenants.Placement().Remove(ctx, f.Arg(0)); err != nil {
		return fmt.Errorf("shards remove: %w", err)
	}
	if err := t.audit(ctx, "shard.remove", 0, map[string]string{"shard": f.Arg(0)}); err != nil {
		return err
	}
	return printJSON(env, map[string]any{"removed": f.Arg(0)})
}

// tenantsMove moves a tenant to another shard online (or resumes, aborts
// or cleans up after a move).
func tenantsMove(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants move")
	to := f.String("to", "", "target `SHARD` (required unless resuming, --abort or --cleanup)")
	dry := f.Bool("dry-run", false, "check and print the plan; change nothing")
	abort := f.Bool("abort", false, "end an unfinished move before its flip: lift the fence, stay where it was")
	cleanup := f.Bool("cleanup", false, "remove the old copy the last finished move kept")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	t, tn, err := openTenant(ctx, f, *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	switch {
	case *abort && *cleanup:
		return errUsage("tenants move: --abort and --cleanup do not go together")
	case *abort:
		mv, err := t.tenants.AbortMove(ctx, tn.ID)
		if err != nil {
			return err
		}
		return printJSON(env, mv)
	case *cleanup:
		mv, err := t.tenants.CleanupMove(ctx, tn.ID)
		if err != nil {
			return err
		}
		if err := t.audit(ctx, "tenant.move_cleanup", tn.ID, map[string]string{"from": mv.FromShard}); err != nil {
			return err
		}
		return printJSON(env, map[string]any{"cleaned": tn.Host, "removed_copy_on": mv.FromShard})
	}
	if *to == "" {
		if _, err := t.catalog.OpenMove(ctx, tn.ID); err != nil {
			return errUsage("tenants move: --to SHARD is required")
		}
	}
	start := time.Now()
	res, err := t.tenants.Move(ctx, tn.ID, tenants.MoveOptions{To: *to, DryRun: *dry, Hook: moveHook, Progress: func(step, detail string) {
		fmt.Fprintf(env.Stderr, "[%6.2fs] %-12s %s\n", time.Since(start).Seconds(), step, detail)
	}})
	if err != nil {
		return fmt.Errorf("tenants move %s: %w", tn.Host, err)
	}
	if !*dry {
		if err := t.audit(ctx, "tenant.move", tn.ID, map[string]string{"from": res.From, "to": res.To}); err != nil {
			return err
		}
	}
	return printJSON(env, res)
}

// shardColumn is how tenants list shows where a tenant lives.
func shardColumn(t catalog.Tenant) string {
	if t.Shard == "" {
		return "(db_url)"
	}
	return t.Shard
}

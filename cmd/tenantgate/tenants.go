package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard/bank"
)

// tenantsCommands are the tenants subcommands.
var tenantsCommands = map[string]func(ctx context.Context, env *Env, args []string) error{
	"create": tenantsCreate,
	"list":   tenantsList,
	"suspend": func(ctx context.Context, env *Env, args []string) error {
		return tenantsSetStatus(ctx, env, args, "suspend", catalog.StatusSuspended)
	},
	"resume": func(ctx context.Context, env *Env, args []string) error {
		return tenantsSetStatus(ctx, env, args, "resume", catalog.StatusActive)
	},
	"delete": tenantsDelete,
	"move":   tenantsMove,
	"update": tenantsUpdate,
}

// runTenants dispatches tenants create|list|update|suspend|resume|delete.
func runTenants(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		printGroupHelp(env.Stdout, "tenants", []string{"create", "list", "update", "suspend", "resume", "delete", "move"})
		return nil
	}
	if len(args) == 0 {
		return errUsage("tenants: a subcommand is required: create, list, update, suspend, resume, delete or move (see tenantgate tenants --help)")
	}
	run, ok := tenantsCommands[args[0]]
	if !ok {
		return errUsage(fmt.Sprintf("tenants: unknown subcommand %q: want create, list, update, suspend, resume, delete or move (see tenantgate tenants --help)", args[0]))
	}
	return run(ctx, env, args[1:])
}

// printGroupHelp lists a command's subcommands with their descriptions.
func printGroupHelp(w io.Writer, group string, subs []string) {
	printCommandHelp(w, group, nil, "")
	fmt.Fprintln(w, "\nSubcommands:")
	for _, s := range subs {
		fmt.Fprintf(w, "  %-8s %s\n", s, docs[group+" "+s].summary)
	}
	fmt.Fprintf(w, "\nRun `tenantgate %s <subcommand> --help` for its flags and an example.\n", group)
}

func tenantsCreate(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants create")
	host := f.String("host", "", "tenant `HOST` label, e.g. acme for acme.<root-domain> (required)")
	name := f.String("name", "", "institution `NAME` (required)")
	country := f.String("country", "", "ISO 3166-1 alpha-2 country code `CC` (required); sets the currency")
	domain := f.String("custom-domain", "", "custom `DOMAIN` routed to this tenant")
	plan := f.String("plan", "starter", "subscription `PLAN`: starter, growth or enterprise")
	quota := f.String("quota", "0", "storage quota `SIZE` (bytes, or with KiB/MiB/GiB/TiB) overriding the plan's; 0 = the plan's")
	dbURL := f.String("db-url", "", "tenant database `URL`, outside any shard (default: placed on a shard)")
	pin := f.String("shard", "", "put the tenant on this `SHARD` (default: the least loaded; see tenantgate shards)")
	id := f.Int64("id", 0, "tenant `ID` (default: the next; ids are never reused, so an explicit one must be above every id ever used)")
	sample := f.Bool("sample-data", false, "seed sample users, accounts and transactions")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if *host == "" || *name == "" || *country == "" {
		return errUsage("tenants create: --host, --name and --country are required")
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	// Repair what a crashed create left before adding to it.
	if _, err := t.tenants.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconcile tenant storage: %w", err)
	}
	quotaBytes, err := parseSize(*quota)
	if err != nil {
		return errUsage("tenants create: --quota: " + err.Error())
	}
	req := tenants.CreateRequest{ID: *id, Host: *host, Name: *name, Country: *country, CustomDomain: *domain, Plan: *plan, DBURL: *dbURL, QuotaBytes: quotaBytes, Shard: *pin}
	var login *bank.DemoLogin
	if *sample {
		req.Seed = func(ctx context.Context, db *sql.DB, tenantID int64) error {
			l, err := bank.SeedDemo(ctx, db, tenantID, *country)
			login = &l
			return err
		}
	}
	tn, err := t.tenants.Create(ctx, req)
	switch {
	case errors.Is(err, catalog.ErrHostTaken):
		return fmt.Errorf("tenants create: host %q is already taken by another tenant; choose another --host", *host)
	case errors.Is(err, catalog.ErrDomainTaken):
		return fmt.Errorf("tenants create: custom domain %q is already taken by another tenant", *domain)
	case err != nil:
		return fmt.Errorf("tenants create: %w", err)
	}
	if err := t.audit(ctx, "tenant.create", tn.ID, map[string]string{"host": tn.Host, "plan": tn.Plan}); err != nil {
		return err
	}
	out := struct {
		catalog.Tenant
		Login *bank.DemoLogin `json:"login,omitempty"`
	}{tn, login}
	return printJSON(env, out)
}

func tenantsList(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants list")
	asJSON := f.Bool("json", false, "print JSON instead of a table")
	query := f.String("query", "", "show tenants whose name, host or domain contains `TEXT`")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	var all []catalog.Tenant
	for offset := 0; ; {
		page, total, err := t.catalog.List(ctx, catalog.ListOptions{Query: *query, Limit: 500, Offset: offset})
		if err != nil {
			return err
		}
		all = append(all, page...)
		offset += len(page)
		if len(page) == 0 || offset >= total {
			break
		}
	}
	if *asJSON {
		if all == nil {
			all = []catalog.Tenant{}
		}
		return printJSON(env, all)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tHOST\tNAME\tCOUNTRY\tSTATUS\tSHARD\tCUSTOM DOMAIN\tEXPIRES")
	for _, tn := range all {
		exp := ""
		if !tn.ExpiresAt.IsZero() {
			exp = tn.ExpiresAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tn.ID, tn.Host, tn.Name, tn.CountryCode, tn.Status, shardColumn(tn), tn.CustomDomain, exp)
	}
	return w.Flush()
}

func tenantsSetStatus(ctx context.Context, env *Env, args []string, verb, status string) error {
	f := env.flagSet("tenants " + verb)
	catURL := f.catalogURL()
	ackTimeout := ackFlag(f)
	if err := f.parse(args); err != nil {
		return err
	}
	t, tn, err := openTenant(ctx, f, *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	old := tn.Status
	if status == catalog.StatusSuspended {
		tn, err = t.tenants.Suspend(ctx, tn.ID)
	} else {
		tn, err = t.tenants.Resume(ctx, tn.ID)
	}
	if err != nil {
		return err
	}
	action := "tenant.suspend"
	if status == catalog.StatusActive {
		action = "tenant.resume"
	}
	if err := t.audit(ctx, action, tn.ID, map[string]string{"status": old + " → " + tn.Status}); err != nil {
		return err
	}
	if err := printJSON(env, tn); err != nil {
		return err
	}
	if status != catalog.StatusSuspended {
		return nil
	}
	return awaitFleet(ctx, env.Stderr, t.catalog, *ackTimeout)
}

func tenantsDelete(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants delete")
	backupDir := f.String("backup-dir", "", "keep a copy of the database in `DIR` (default <data-dir>/backups)")
	noBackup := f.Bool("no-backup", false, "delete the database without keeping a copy")
	catURL := f.catalogURL()
	ackTimeout := ackFlag(f)
	if err := f.parse(args); err != nil {
		return err
	}
	t, tn, err := openTenant(ctx, f, *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	dir := *backupDir
	if dir == "" {
		dir = filepath.Join(f.DataDir(), "backups")
	}
	if *noBackup {
		dir = ""
	}
	del, err := t.tenants.Delete(ctx, tn.ID, dir)
	if err != nil {
		return err
	}
	if err := t.audit(ctx, "tenant.delete", tn.ID, map[string]string{"host": tn.Host, "backup": fmt.Sprint(dir != "")}); err != nil {
		return err
	}
	if err := printJSON(env, map[string]any{"deleted": tn.ID, "host": tn.Host, "backup_dir": dir, "backup": del.Backup}); err != nil {
		return err
	}
	return awaitFleet(ctx, env.Stderr, t.catalog, *ackTimeout)
}

// openTenant opens the tools and resolves the one HOST_OR_ID argument.
func openTenant(ctx context.Context, f *commandFlags, catURL string) (*tools, catalog.Tenant, error) {
	if f.NArg() != 1 {
		return nil, catalog.Tenant{}, errUsage(fmt.Sprintf("%s: exactly one HOST_OR_ID is required, got %d arguments", f.name, f.NArg()))
	}
	t, err := openExisting(ctx, f.DataDir(), catURL)
	if err != nil {
		return nil, catalog.Tenant{}, err
	}
	tn, err := t.catalog.Resolve(ctx, f.Arg(0))
	if err != nil {
		t.Close()
		return nil, catalog.Tenant{}, fmt.Errorf("tenant %q: %w", f.Arg(0), err)
	}
	return t, tn, nil
}

func printJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

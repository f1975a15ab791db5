package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/provision"
	"github.com/microfi/tenantgate/shard/bank"
)

// runTenants dispatches tenants create|list|suspend|resume|delete.
func runTenants(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errUsage("usage: tenantgate tenants create|list|suspend|resume|delete …")
	}
	switch args[0] {
	case "create":
		return tenantsCreate(ctx, env, args[1:])
	case "list":
		return tenantsList(ctx, env, args[1:])
	case "suspend":
		return tenantsSetStatus(ctx, env, args[1:], catalog.StatusSuspended)
	case "resume":
		return tenantsSetStatus(ctx, env, args[1:], catalog.StatusActive)
	case "delete":
		return tenantsDelete(ctx, env, args[1:])
	}
	return errUsage(fmt.Sprintf("unknown tenants command %q", args[0]))
}

func tenantsCreate(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants create")
	host := f.String("host", "", "subdomain label (required)")
	name := f.String("name", "", "institution name (required)")
	country := f.String("country", "", "ISO 3166-1 alpha-2 country code (required)")
	domain := f.String("custom-domain", "", "custom domain routed to this tenant")
	plan := f.String("plan", "starter", "subscription plan")
	dbURL := f.String("db-url", "", "tenant database URL (default: <data-dir>/tenants/<id>.db)")
	id := f.Int64("id", 0, "tenant id (default: next free)")
	sample := f.Bool("sample-data", false, "seed sample users, accounts and transactions")
	catURL := f.String("catalog-url", "", "catalog database URL")
	if err := f.parse(args); err != nil {
		return err
	}
	if *host == "" || *name == "" || *country == "" {
		return errUsage("--host, --name and --country are required")
	}
	if _, ok := bank.CurrencyFor(*country); !ok {
		return errUsage(fmt.Sprintf("unsupported country %q", *country))
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	req := provision.Request{ID: *id, Host: *host, Name: *name, Country: *country, CustomDomain: *domain, Plan: *plan, DBURL: *dbURL}
	var login *bank.DemoLogin
	if *sample {
		req.Seed = func(ctx context.Context, db *sql.DB, tenantID int64) error {
			l, err := bank.SeedDemo(ctx, db, tenantID, *country)
			login = &l
			return err
		}
	}
	tn, err := t.provisioner.Create(ctx, req)
	if err != nil {
		return err
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
	asJSON := f.Bool("json", false, "print JSON")
	query := f.String("query", "", "filter by name, host or domain")
	catURL := f.String("catalog-url", "", "catalog database URL")
	if err := f.parse(args); err != nil {
		return err
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
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
	fmt.Fprintln(w, "ID\tHOST\tNAME\tCOUNTRY\tSTATUS\tCUSTOM DOMAIN\tEXPIRES")
	for _, tn := range all {
		exp := ""
		if !tn.ExpiresAt.IsZero() {
			exp = tn.ExpiresAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", tn.ID, tn.Host, tn.Name, tn.CountryCode, tn.Status, tn.CustomDomain, exp)
	}
	return w.Flush()
}

func tenantsSetStatus(ctx context.Context, env *Env, args []string, status string) error {
	f := env.flagSet("tenants " + status)
	catURL := f.String("catalog-url", "", "catalog database URL")
	if err := f.parse(args); err != nil {
		return err
	}
	t, tn, err := openTenant(ctx, f, *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	old := tn.Status
	tn, err = t.catalog.Update(ctx, tn.ID, catalog.Update{Status: &status})
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
	return printJSON(env, tn)
}

func tenantsDelete(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants delete")
	backupDir := f.String("backup-dir", "", "keep the database here (default <data-dir>/backups)")
	noBackup := f.Bool("no-backup", false, "delete the database without keeping a copy")
	catURL := f.String("catalog-url", "", "catalog database URL")
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
	if err := t.provisioner.Delete(ctx, tn.ID, dir); err != nil {
		return err
	}
	if err := t.audit(ctx, "tenant.delete", tn.ID, map[string]string{"host": tn.Host, "backup": fmt.Sprint(dir != "")}); err != nil {
		return err
	}
	return printJSON(env, map[string]any{"deleted": tn.ID, "host": tn.Host, "backup_dir": dir})
}

// openTenant opens the tools and resolves the one HOST_OR_ID argument.
func openTenant(ctx context.Context, f *commandFlags, catURL string) (*tools, catalog.Tenant, error) {
	if f.NArg() != 1 {
		return nil, catalog.Tenant{}, errUsage("exactly one HOST_OR_ID is required")
	}
	t, err := openTools(ctx, f.DataDir(), catURL)
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

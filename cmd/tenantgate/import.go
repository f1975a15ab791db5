package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard/storage"
	"github.com/microfi/tenantgate/shard/transfer"
)

// runImport moves a legacy (pre-multi-tenant) database into one tenant, or
// splits a shared database into one database per tenant.
func runImport(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("import")
	legacy := f.String("legacy", "", "legacy MicroFi database `FILE` (the six tables without tenant_id)")
	shared := f.String("shared", "", "shared MicroFi database `FILE` (tenants table + the six tables with tenant_id)")
	tenant := f.String("tenant", "", "with --legacy: the receiving tenant, by `HOST_OR_ID`")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return errUsage(fmt.Sprintf("import: unexpected argument %q", f.Arg(0)))
	case (*legacy == "") == (*shared == ""):
		return errUsage("import: give exactly one of --legacy FILE or --shared FILE")
	case *legacy != "" && *tenant == "":
		return errUsage("import: --legacy needs --tenant HOST_OR_ID")
	case *shared != "" && *tenant != "":
		return errUsage("import: --shared keeps each source tenant's id and host; --tenant does not apply")
	}
	path, kind := *legacy, transfer.Legacy
	if *shared != "" {
		path, kind = *shared, transfer.Shared
	}
	before, err := fileHash(path)
	if err != nil {
		return fmt.Errorf("read %s source: %w", kind, err)
	}
	src, err := transfer.Open(ctx, path, kind)
	if err != nil {
		return err
	}
	defer src.Close()
	// --shared creates its tenants (and the catalog if needed); --legacy
	// fills a tenant that must already exist.
	open := openTools
	if kind == transfer.Legacy {
		open = openExisting
	}
	t, err := open(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()

	start := time.Now()
	var reports []importResult
	if kind == transfer.Legacy {
		reports, err = importLegacy(ctx, t, src, *tenant)
	} else {
		reports, err = importShared(ctx, env, t, src)
	}
	elapsed := time.Since(start)
	for _, r := range reports {
		printImport(env.Stdout, r)
	}
	if len(src.Warnings) > 0 {
		fmt.Fprintln(env.Stdout, "not imported (not part of the tenant schema):")
		for _, w := range src.Warnings {
			fmt.Fprintf(env.Stdout, "  %s\n", w)
		}
	}
	after, hashErr := fileHash(path)
	if hashErr == nil && after == before {
		fmt.Fprintf(env.Stdout, "source %s unchanged (sha256 %.16s… before and after)\n", path, before)
	} else if hashErr == nil {
		// Cannot happen through this code (the source is opened read-only);
		// say so loudly if something else wrote to it meanwhile.
		fmt.Fprintf(env.Stdout, "WARNING: source %s changed during the import (sha256 %.16s… → %.16s…)\n", path, before, after)
	}
	if err != nil {
		return err
	}
	var rows, added int64
	for _, r := range reports {
		s, a := r.report.Rows()
		rows, added = rows+s, added+a
	}
	fmt.Fprintf(env.Stdout, "imported %d tenant(s): %d source rows, %d added, %d already present, verified, in %s\n",
		len(reports), rows, added, rows-added, elapsed.Round(time.Millisecond))
	return nil
}

// importResult is one tenant's import, with how its catalog entry came to be.
type importResult struct {
	tenant  catalog.Tenant
	created bool
	report  transfer.Report
}

func importLegacy(ctx context.Context, t *tools, src *transfer.Source, hostOrID string) ([]importResult, error) {
	tn, err := t.catalog.Resolve(ctx, hostOrID)
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", hostOrID, err)
	}
	if err := prepareTarget(ctx, t, tn); err != nil {
		return nil, err
	}
	rep, err := src.Import(ctx, tn.ID, t.shards.URL(tn.ID, tn.DBURL))
	return []importResult{{tenant: tn, report: rep}}, err
}

// sharedPlan is what importing one shared-source tenant needs.
type sharedPlan struct {
	src    transfer.SourceTenant
	tenant catalog.Tenant // the existing catalog entry, if any
	exists bool
}

// importShared checks every source tenant against the catalog and the
// existing tenant databases first — a source tenant whose id or host (or
// custom domain) belongs to a different tenant, or whose database holds
// conflicting rows, refuses the whole import before anything is written —
// then creates the missing tenants and imports each.
func importShared(ctx context.Context, env *Env, t *tools, src *transfer.Source) ([]importResult, error) {
	plans, err := planShared(ctx, t, src)
	if err != nil {
		return nil, err
	}
	var out []importResult
	for _, p := range plans {
		r := importResult{tenant: p.tenant}
		if !p.exists {
			r.tenant, err = t.tenants.Create(ctx, *importRequest(p.src))
			if err != nil {
				return out, fmt.Errorf("create tenant %d (%s): %w", p.src.ID, p.src.Host, err)
			}
			r.created = true
		} else if err := prepareTarget(ctx, t, p.tenant); err != nil {
			return out, err
		}
		r.report, err = src.Import(ctx, r.tenant.ID, t.shards.URL(r.tenant.ID, r.tenant.DBURL))
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// importRequest is the create request for a source tenant (unknown
// statuses import as active).
func importRequest(st transfer.SourceTenant) *tenants.CreateRequest {
	status := st.Status
	if status != catalog.StatusActive && status != catalog.StatusSuspended {
		status = catalog.StatusActive
	}
	return &tenants.CreateRequest{ID: st.ID, Host: st.Host, Name: st.Name, Country: st.CountryCode,
		CustomDomain: st.CustomDomain, Plan: st.Plan, Status: status}
}

func planShared(ctx context.Context, t *tools, src *transfer.Source) ([]sharedPlan, error) {
	var plans []sharedPlan
	var problems []string
	for _, st := range src.Tenants {
		p := sharedPlan{src: st}
		byID, err := t.catalog.Get(ctx, st.ID)
		switch {
		case err == nil:
			if byID.Host != st.Host {
				problems = append(problems, fmt.Sprintf("source tenant %d (%s): id %d belongs to catalog tenant %q", st.ID, st.Host, st.ID, byID.Host))
				continue
			}
			p.tenant, p.exists = byID, true
		case errors.Is(err, catalog.ErrTenantNotFound):
			// The tenant rules are checked for every tenant to create before
			// anything is written.
			if err := t.tenants.Check(importRequest(st)); err != nil {
				problems = append(problems, fmt.Sprintf("source tenant %d (%s): %v", st.ID, st.Host, err))
				continue
			}
			if other, err := t.catalog.FindByHost(ctx, st.Host); err == nil {
				problems = append(problems, fmt.Sprintf("source tenant %d (%s): host %q belongs to catalog tenant %d", st.ID, st.Host, st.Host, other.ID))
				continue
			} else if !errors.Is(err, catalog.ErrTenantNotFound) {
				return nil, err
			}
			if d := strings.ToLower(st.CustomDomain); d != "" {
				if other, err := t.catalog.FindByDomain(ctx, d); err == nil {
					problems = append(problems, fmt.Sprintf("source tenant %d (%s): custom domain %q belongs to catalog tenant %d", st.ID, st.Host, d, other.ID))
					continue
				}
			}
		default:
			return nil, err
		}
		if p.exists {
			url := t.shards.URL(p.tenant.ID, p.tenant.DBURL)
			if err := refuseMoving(ctx, t, p.tenant); err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if storage.IsRemote(url) {
				// Checked on a snapshot of the server's database.
				if err := src.Check(ctx, st.ID, url); err != nil {
					problems = append(problems, err.Error())
				}
				continue
			}
			if path, err := storage.LocalPath(url); err == nil {
				if _, statErr := os.Stat(path); statErr == nil {
					if err := src.Check(ctx, st.ID, url); err != nil {
						problems = append(problems, err.Error())
						continue
					}
				}
			}
		}
		plans = append(plans, p)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("shared import refused, nothing was written:\n  %s", strings.Join(problems, "\n  "))
	}
	return plans, nil
}

// prepareTarget makes sure an existing tenant's database exists and is on
// the newest schema (the shard manager migrates on open).
// A remote one is opened (stamp checked, migrated) over HTTP like any.
func prepareTarget(ctx context.Context, t *tools, tn catalog.Tenant) error {
	if err := refuseMoving(ctx, t, tn); err != nil {
		return err
	}
	h, err := t.shards.Acquire(ctx, tn.ID, tn.DBURL)
	if err != nil {
		return fmt.Errorf("tenant %d (%s): %w", tn.ID, tn.Host, err)
	}
	h.Release()
	return nil
}

func printImport(w io.Writer, r importResult) {
	if len(r.report.Tables) == 0 {
		return // refused before any table was compared: the error says why
	}
	how := ""
	if r.created {
		how = " (created in the catalog)"
	}
	fmt.Fprintf(w, "tenant %d (%s)%s:\n", r.tenant.ID, r.tenant.Host, how)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  table\tsource rows\tadded\talready present\tchecksum\t")
	for _, tr := range r.report.Tables {
		state := "ok"
		if tr.SourceChecksum != tr.TargetChecksum {
			state = "MISMATCH"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%.16s %s\t\n", tr.Table, tr.SourceRows, tr.Added, tr.Present, tr.SourceChecksum, state)
	}
	tw.Flush()
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// refuseMoving refuses to write a tenant that an unfinished move holds:
// restore and import fence and unfence the database themselves, which
// would lift the move's fence.
func refuseMoving(ctx context.Context, t *tools, tn catalog.Tenant) error {
	m, err := t.catalog.OpenMove(ctx, tn.ID)
	switch {
	case errors.Is(err, catalog.ErrMoveNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("tenant %d (%s): %w", tn.ID, tn.Host, err)
	}
	return fmt.Errorf("tenant %d (%s) is being moved (move %d, step %s); finish it (tenants move %s) or abort it (--abort) first", tn.ID, tn.Host, m.ID, m.Step, tn.Host)
}

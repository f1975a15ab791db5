package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/storage"
)

// errFindings makes a command exit 1 after it printed what it found.
var errFindings = errors.New("audit verification found problems")

// audit records an operator action in the platform audit trail.
func (t *tools) audit(ctx context.Context, action string, tenantID int64, details map[string]string) error {
	e := audit.Entry{Role: "operator", ClientAddr: "cli", Action: action, Details: details}
	if u := os.Getenv("USER"); u != "" && len(u) <= 64 {
		e.RequestID = "cli:" + u
	}
	if tenantID != 0 {
		e.TargetType, e.TargetID = "tenant", catalog.FormatID(tenantID)
	}
	_, err := t.catalog.Audit(ctx, e)
	return err
}

// runTokens: tenantgate tokens revoke --tenant H.
func runTokens(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		printGroupHelp(env.Stdout, "tokens", []string{"revoke"})
		return nil
	}
	if len(args) == 0 || args[0] != "revoke" {
		return errUsage("tokens: the subcommand is revoke (see tenantgate tokens --help)")
	}
	f := env.flagSet("tokens revoke")
	tenant := f.String("tenant", "", "tenant host or id whose tokens stop working")
	catURL := f.catalogURL()
	ackTimeout := ackFlag(f)
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if *tenant == "" {
		return errUsage("--tenant is required")
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
	nb, err := t.catalog.RevokeTenant(ctx, tn.ID)
	if err != nil {
		return err
	}
	if err := t.audit(ctx, "tokens.revoke", tn.ID, nil); err != nil {
		return err
	}
	if err := printJSON(env, map[string]any{"revoked": true, "tenant_id": tn.ID, "host": tn.Host, "not_before": nb}); err != nil {
		return err
	}
	return awaitFleet(ctx, env.Stderr, t.catalog, *ackTimeout)
}

// auditReport is one chain's verification.
type auditReport struct {
	Chain    string          `json:"chain"`
	Entries  int64           `json:"entries"`
	Findings []audit.Finding `json:"findings"`
	Error    string          `json:"error,omitempty"`
}

// runAudit: tenantgate audit verify [--tenant H | --all] [--json]. It walks
// the hash chains (each tenant's audit_log, and the platform's) and reports
// every gap, edit or broken link; it exits 1 if it found any.
func runAudit(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		printGroupHelp(env.Stdout, "audit", []string{"verify"})
		return nil
	}
	if len(args) == 0 || args[0] != "verify" {
		return errUsage("audit: the subcommand is verify (see tenantgate audit --help)")
	}
	f := env.flagSet("audit verify")
	tenant := f.String("tenant", "", "verify this tenant's trail")
	all := f.Bool("all", false, "verify every tenant's trail and the platform's")
	asJSON := f.Bool("json", false, "print the reports as JSON")
	catURL := f.catalogURL()
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	if (*tenant == "") == !*all {
		return errUsage("give exactly one of --tenant or --all")
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	var targets []catalog.Tenant
	if *all {
		if targets, err = allTenants(ctx, t.catalog); err != nil {
			return err
		}
	} else {
		tn, err := t.catalog.Resolve(ctx, *tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", *tenant, err)
		}
		targets = []catalog.Tenant{tn}
	}
	var reports []auditReport
	if *all {
		v, err := t.catalog.VerifyAudit(ctx)
		reports = append(reports, report("platform", v, err))
	}
	for _, tn := range targets {
		v, err := verifyTenantAudit(ctx, t, tn)
		reports = append(reports, report(fmt.Sprintf("tenant %d (%s)", tn.ID, tn.Host), v, err))
	}
	bad := false
	for _, r := range reports {
		bad = bad || len(r.Findings) > 0 || r.Error != ""
	}
	if *asJSON {
		if err := printJSON(env, map[string]any{"ok": !bad, "chains": reports}); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			switch {
			case r.Error != "":
				fmt.Fprintf(env.Stdout, "%s: ERROR %s\n", r.Chain, r.Error)
			case len(r.Findings) == 0:
				fmt.Fprintf(env.Stdout, "%s: ok, %d entries, chain intact\n", r.Chain, r.Entries)
			default:
				fmt.Fprintf(env.Stdout, "%s: %d entries, %d findings\n", r.Chain, r.Entries, len(r.Findings))
				for _, fd := range r.Findings {
					fmt.Fprintf(env.Stdout, "  %s\n", fd)
				}
			}
		}
	}
	if bad {
		return errFindings
	}
	return nil
}

func report(chain string, v *audit.Verifier, err error) auditReport {
	if err != nil {
		return auditReport{Chain: chain, Error: err.Error(), Findings: []audit.Finding{}}
	}
	findings := v.Findings
	if findings == nil {
		findings = []audit.Finding{}
	}
	return auditReport{Chain: chain, Entries: v.Count, Findings: findings}
}

// verifyTenantAudit reads the tenant's database directly (not through a
// proxy: the point is to check what is on disk).
func verifyTenantAudit(ctx context.Context, t *tools, tn catalog.Tenant) (*audit.Verifier, error) {
	db, err := storage.OpenMode(ctx, t.shards.URL(tn.ID, tn.DBURL), storage.ReadOnly)
	if err != nil {
		return nil, fmt.Errorf("open tenant database: %w", err)
	}
	defer db.Close()
	v, err := bank.VerifyAudit(ctx, db, tn.ID)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return nil, errors.New("no audit trail: the database is behind the binary's schema (run tenantgate migrate)")
	}
	return v, err
}

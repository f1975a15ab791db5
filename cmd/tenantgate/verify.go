package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/verify"
)

// errVerifyFindings makes verify exit 1 after printing its report.
var errVerifyFindings = errors.New("verify found problems")

// runVerify proves tenant ledgers read-only (see package verify): one
// tenant (--tenant) or all (--all), a line per tenant or JSON (--json),
// exit 1 on any finding. Safe beside a live proxy.
func runVerify(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("verify")
	tenant := f.String("tenant", "", "the tenant to verify (host or id)")
	all := f.Bool("all", false, "verify every tenant")
	concurrency := f.Int("concurrency", verify.DefaultConcurrency, "with --all: databases verified at once")
	asJSON := f.Bool("json", false, "print the reports as JSON")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return errUsage(fmt.Sprintf("unexpected argument %q", f.Arg(0)))
	case (*tenant == "") == !*all:
		return errUsage("give exactly one of --tenant HOST_OR_ID or --all")
	case *concurrency < 1:
		return errUsage("--concurrency must be at least 1")
	}
	t, err := openTools(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	var tenants []catalog.Tenant
	if *all {
		if tenants, err = allTenants(ctx, t.catalog); err != nil {
			return err
		}
	} else {
		tn, err := t.catalog.Resolve(ctx, *tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", *tenant, err)
		}
		tenants = []catalog.Tenant{tn}
	}
	targets := make([]verify.Target, len(tenants))
	for i, tn := range tenants {
		targets[i] = verify.Target{ID: tn.ID, Host: tn.Host, URL: t.shards.URL(tn.ID, tn.DBURL)}
	}
	bar := newVerifyBar(env.Stderr)
	reports, err := verify.All(ctx, targets, *concurrency, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range reports {
		if !r.OK {
			bad++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"tenants": reports, "failed": bad}); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			status := "ok"
			if !r.OK {
				status = fmt.Sprintf("FAILED (%d findings)", len(r.Findings))
			}
			where := ""
			if r.Remote {
				where = ", remote"
			}
			fmt.Fprintf(env.Stdout, "tenant %d (%s%s): %s — %d accounts, %d postings\n", r.TenantID, r.Host, where, status, r.Accounts, r.Postings)
			for _, fd := range r.Findings {
				fmt.Fprintf(env.Stdout, "  %s\n", fd)
			}
			for _, sk := range r.Skipped {
				fmt.Fprintf(env.Stdout, "  skipped %s: %s\n", sk.Check, sk.Reason)
			}
		}
		fmt.Fprintf(env.Stdout, "%d tenants verified, %d with findings\n", len(reports), bad)
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d tenants", errVerifyFindings, bad, len(reports))
	}
	return nil
}

// verifyBar draws a progress bar on a terminal only; pipes, files and CI
// logs get the report alone.
type verifyBar struct {
	mu sync.Mutex
	w  io.Writer
	on bool
}

func newVerifyBar(w io.Writer) *verifyBar { return &verifyBar{w: w, on: isTerminal(w)} }

func (p *verifyBar) update(done, total int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	const width = 30
	n := done * width / max(total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d verified", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}

func (p *verifyBar) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

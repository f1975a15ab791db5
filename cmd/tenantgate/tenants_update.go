package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
)

// tenantsUpdate changes a tenant's name, plan or storage quota in one
// statement, through the tenant service like the admin API's PATCH.
func tenantsUpdate(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("tenants update")
	name := f.String("name", "", "new institution `NAME`")
	plan := f.String("plan", "", "new subscription `PLAN`: starter, growth or enterprise")
	quota := f.String("quota", "", "storage quota `SIZE` (bytes, or with KiB/MiB/GiB/TiB), overriding the plan's; 0 = the plan's")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	var c tenants.Change
	var err error
	f.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			c.Name = name
		case "plan":
			c.Plan = plan
		case "quota":
			var n int64
			if n, err = parseSize(*quota); err == nil {
				c.QuotaBytes = &n
			}
		}
	})
	if err != nil {
		return errUsage("tenants update: --quota: " + err.Error())
	}
	if c.Name == nil && c.Plan == nil && c.QuotaBytes == nil {
		return errUsage("tenants update: nothing to change: give --name, --plan or --quota")
	}
	t, tn, err := openTenant(ctx, f, *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	old := tn
	if tn, err = t.tenants.Update(ctx, tn.ID, c); err != nil {
		return fmt.Errorf("tenants update: %w", err)
	}
	details := map[string]string{}
	for k, v := range map[string][2]string{
		"name": {old.Name, tn.Name}, "subscription_plan": {old.Plan, tn.Plan},
		"storage_quota_bytes": {strconv.FormatInt(old.QuotaBytes, 10), strconv.FormatInt(tn.QuotaBytes, 10)},
	} {
		if v[0] != v[1] {
			details[k] = v[0] + " → " + v[1]
		}
	}
	if err := t.audit(ctx, "tenant.update", tn.ID, details); err != nil {
		return err
	}
	return printJSON(env, struct {
		catalog.Tenant
		QuotaInForce int64 `json:"storage_quota_effective_bytes"`
	}{tn, tenants.Quota(tn)})
}

// parseSize reads a byte count: digits, optionally followed by KiB, MiB,
// GiB or TiB (KB/MB/GB/TB are taken as the same binary units).
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10},
	}
	for _, u := range units {
		if len(num) > len(u.suffix) && strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 512MiB, 10GiB, 0)", s)
	}
	return n * mult, nil
}

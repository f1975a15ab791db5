package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/migrations"
)

// errProxiesBehind is what a refused migrate matches.
var errProxiesBehind = errors.New("live proxies cannot serve the new tenant schema")

// checkFleetServes refuses to take tenants past the schema a live proxy
// can serve: a proxy serves a database newer than its binary only when
// every newer migration is expand-only, so a migration that is not would
// make it answer 503 for every tenant it opens afterwards. It names the
// proxies to upgrade first. With force (or a dry run) it only warns.
func checkFleetServes(ctx context.Context, env *Env, cat *catalog.Catalog, set migrations.Set, force bool) error {
	all, err := registry.List(ctx, cat)
	if err != nil {
		return err
	}
	target := set.Latest()
	var behind []string
	blocking := map[string]bool{}
	for _, p := range registry.Live(all) {
		if set.ServableBy(p.TenantSchema, target) {
			continue
		}
		behind = append(behind, fmt.Sprintf("  %s serves tenant schema up to %d", p, set.Ceiling(p.TenantSchema)))
		for _, m := range set.Blocking(p.TenantSchema, target) {
			blocking[fmt.Sprintf("%04d_%s", m.Version, m.Name)] = true
		}
	}
	if len(behind) == 0 {
		return nil
	}
	msg := fmt.Sprintf("tenant schema %d is not expand-only past what %d live proxies serve (%s); upgrade them first (roll the proxies, then migrate):\n%s",
		target, len(behind), strings.Join(slices.Sorted(maps.Keys(blocking)), ", "), strings.Join(behind, "\n"))
	if force {
		fmt.Fprintf(env.Stderr, "WARNING: --force: %s\nThose proxies will answer 503 for every tenant they open after it is migrated.\n", msg)
		return nil
	}
	return fmt.Errorf("%w: %s\n(--force migrates anyway)", errProxiesBehind, msg)
}

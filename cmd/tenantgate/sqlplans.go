package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana"
)

// sqlPlansFlag is --sql-plan-limits: per-plan overrides of the SQL limits,
// "PLAN:KEY=VALUE,…" with plans separated by ";" (or the flag repeated),
// on top of proxy.DefaultSQLPlans. Keys: streams, rows, bytes, timeout.
type sqlPlansFlag struct {
	plans map[string]hrana.Limits
}

func (f *sqlPlansFlag) String() string { return "" }

func (f *sqlPlansFlag) Set(v string) error {
	if f.plans == nil {
		f.plans = proxy.DefaultSQLPlans()
	}
	for _, spec := range strings.Split(v, ";") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		plan, kvs, ok := strings.Cut(spec, ":")
		if !ok || !slices.Contains(tenants.Plans, plan) {
			return fmt.Errorf("%q: want PLAN:KEY=VALUE,… with PLAN one of %s", spec, strings.Join(tenants.Plans, ", "))
		}
		l := f.plans[plan]
		for _, kv := range strings.Split(kvs, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			var err error
			switch k {
			case "streams":
				l.MaxStreams, err = positive(val)
			case "rows":
				l.MaxRowsPerResponse, err = positive(val)
			case "bytes":
				l.MaxResponseBytes, err = positive(val)
			case "timeout":
				var d time.Duration
				if d, err = time.ParseDuration(val); err == nil && d <= 0 {
					err = fmt.Errorf("must be positive")
				}
				l.StatementTimeout = d
			default:
				return fmt.Errorf("%s: unknown key %q (streams, rows, bytes or timeout)", plan, k)
			}
			if err != nil {
				return fmt.Errorf("%s: %s=%q: %v", plan, k, val, err)
			}
		}
		f.plans[plan] = l
	}
	return nil
}

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil && n <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return n, err
}

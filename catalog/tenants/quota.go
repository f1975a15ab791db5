package tenants

import (
	"strconv"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard"
)

// Storage quotas (bytes a tenant's database may grow to), by plan. A
// tenant's own override (catalog.Tenant.QuotaBytes, set with the admin API
// or `tenants update --quota`) takes precedence. Demos are small: they are
// anonymous and many.
var PlanQuotas = map[string]int64{
	"starter":    1 << 30,   // 1 GiB
	"growth":     10 << 30,  // 10 GiB
	"enterprise": 100 << 30, // 100 GiB
}

// DemoQuota is the storage quota of a demo tenant (seeded demos use
// about 200 KB).
const DemoQuota = 16 << 20

// Bounds of a quota override.
const (
	MinQuota = 1 << 20 // 1 MiB: room for the schema and some data
	MaxQuota = 1 << 40 // 1 TiB
)

// Quota is the storage quota in force for t: its override, else its
// plan's (a demo's is DemoQuota).
func Quota(t catalog.Tenant) int64 {
	switch {
	case t.QuotaBytes > 0:
		return t.QuotaBytes
	case t.Status == catalog.StatusDemo:
		return DemoQuota
	}
	if q, ok := PlanQuotas[t.Plan]; ok {
		return q
	}
	return PlanQuotas[Plans[0]]
}

// QuotaProblem checks a quota override in bytes (0 clears it).
func QuotaProblem(n int64) string {
	if n != 0 && (n < MinQuota || n > MaxQuota) {
		return "must be 0 (the plan's quota) or between " + strconv.Itoa(MinQuota) + " and " + strconv.FormatInt(MaxQuota, 10) + " bytes"
	}
	return ""
}

// Limits are the bounds the shard manager applies to every connection of
// t's database: every door that acquires a tenant's database passes them.
func Limits(t catalog.Tenant) shard.Limits {
	return shard.Limits{MaxBytes: Quota(t)}
}

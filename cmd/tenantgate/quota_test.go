package main

import (
	"strings"
	"testing"
)

// tenants create --quota and tenants update --quota set the storage quota
// override through the tenant service; 0 goes back to the plan's.
func TestCLIQuota(t *testing.T) {
	dir := t.TempDir()
	out := must(t, dir, "tenants", "create", "--data-dir", "d", "--host", "quota", "--name", "Quota Savings", "--country", "GH", "--quota", "64MiB")
	if !strings.Contains(out, `"storage_quota_bytes": 67108864`) {
		t.Fatalf("create --quota: %s", out)
	}
	out = must(t, dir, "tenants", "update", "quota", "--data-dir", "d", "--quota", "2GiB", "--plan", "growth")
	if !strings.Contains(out, `"storage_quota_bytes": 2147483648`) || !strings.Contains(out, `"subscription_plan": "growth"`) ||
		!strings.Contains(out, `"storage_quota_effective_bytes": 2147483648`) {
		t.Fatalf("update --quota: %s", out)
	}
	out = must(t, dir, "tenants", "update", "quota", "--data-dir", "d", "--quota", "0")
	if strings.Contains(out, `"storage_quota_bytes":`) || !strings.Contains(out, `"storage_quota_effective_bytes": 10737418240`) {
		t.Fatalf("update --quota 0 (growth plan's 10 GiB): %s", out)
	}
	for _, tc := range []struct{ args, want string }{
		{"--quota 12parsecs", "is not a size"},
		{"--quota 1KiB", "storage_quota_bytes must be 0 (the plan's quota) or between"},
		{"", "nothing to change"},
	} {
		args := append([]string{"tenants", "update", "quota", "--data-dir", "d"}, strings.Fields(tc.args)...)
		if r := run(t, dir, args...); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, %q", tc.args, r.code, r.stderr)
		}
	}
	if got := parseSizeOrZero("1.5GiB"); got != 0 {
		t.Errorf("fractional size accepted: %d", got)
	}
}

func parseSizeOrZero(s string) int64 {
	n, err := parseSize(s)
	if err != nil {
		return 0
	}
	return n
}

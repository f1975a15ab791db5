package tenants_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
)

// Every reap is in the platform audit trail, under the chain's tamper
// evidence: editing the row with plain SQLite is reported by the verifier.
func TestReapAudited(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := e.clock()
	demo := e.demo(t, now.Add(-time.Minute))
	e.demo(t, now.Add(time.Hour)) // not yet expired: no entry
	r := &tenants.Reaper{Service: e.svc, Now: func() time.Time { return now }}
	if n, err := r.ReapOnce(ctx); err != nil || n != 1 {
		t.Fatalf("ReapOnce = %d, %v", n, err)
	}
	entries, _, err := e.cat.AuditEntries(ctx, catalog.AuditQuery{Action: "demo.reap"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d demo.reap entries, want 1: %+v", len(entries), entries)
	}
	got := entries[0]
	if got.TargetType != "tenant" || got.TargetID != catalog.FormatID(demo.ID) || got.Role != "system" ||
		got.Details["host"] != demo.Host || got.Details["expired_at"] == "" {
		t.Errorf("demo.reap entry = %+v", got)
	}
	v, err := e.cat.VerifyAudit(ctx)
	if err != nil || len(v.Findings) != 0 || v.Count == 0 {
		t.Fatalf("verify before tampering: %v, %v", v.Summary(), err)
	}

	// Behind the catalog's back: claim another host was reaped.
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "catalog.db")+"?_pragma=busy_timeout(2000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE platform_audit SET details = '{}' WHERE action = 'demo.reap'`); err == nil {
		t.Fatal("platform_audit accepted an UPDATE")
	}
	for _, q := range []string{
		`DROP TRIGGER platform_audit_append_only_update`,
		`UPDATE platform_audit SET details = replace(details, '` + demo.Host + `', 'someone-else') WHERE action = 'demo.reap'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	v, err = e.cat.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Findings) == 0 || v.Findings[0].Seq != got.Seq || !strings.Contains(v.Summary(), "edited") {
		t.Errorf("verify after editing the reap entry: %s", v.Summary())
	}
}

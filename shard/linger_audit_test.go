package shard_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/verify"
)

// The continuous ledger audit and a backup read an open tenant's file on
// connections of their own: closed while the manager's pool holds the
// file, their database descriptor stays pending in SQLite and must be
// charged (fails before: 4 charged, 5 held after one audit, on every open
// database the audit visits).
func TestFDChargeAuditAndBackupBesideOpen(t *testing.T) {
	f := newFDLedger(t, shard.Config{})
	a := verify.NewAuditor(verify.AuditorConfig{
		PerMinute: -1, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Closed: func(t verify.Target) { f.m.ClosedOutside(t.ID, t.URL, true) },
	})
	h := f.acquire(shard.Limits{})
	f.check("open")
	for range 2 {
		if r := a.AuditOne(context.Background(), verify.Target{ID: 1, URL: f.m.URL(1, "")}); !r.OK {
			t.Fatalf("audit: %+v", r)
		}
		f.check("audited")
	}
	if err := f.m.Backup(context.Background(), 1, "", filepath.Join(t.TempDir(), "1.db")); err != nil {
		t.Fatal(err)
	}
	f.check("backed up")
	// A read-only connection of the manager reuses what the audit left.
	c, err := h.Conn(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	f.check("read-only connection")
	c.Release()
	h.Release()
	f.m.Shed(1)
	if got := gaugeValue(t, f.reg, "tenantgate_tenant_db_fds"); got != 0 {
		t.Fatalf("after the database closed, %v descriptors charged, want 0", got)
	}
	// Audited while closed: nothing is kept, nothing charged.
	a.AuditOne(context.Background(), verify.Target{ID: 1, URL: f.m.URL(1, "")})
	if got := gaugeValue(t, f.reg, "tenantgate_tenant_db_fds"); got != 0 {
		t.Fatalf("after an audit of a closed database, %v descriptors charged, want 0", got)
	}
}

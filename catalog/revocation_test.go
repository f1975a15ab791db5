package catalog_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
)

// A revocation made by one process (a CLI, another proxy) reaches a
// serving process's cached state through the poller within a second.
func TestRevocationsAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	server, _ := mustOpen(t, path, 50*time.Millisecond)
	cli, _ := mustOpen(t, path, -1)

	issued := time.Now().Unix()
	r, err := server.Revocations(ctx, 7)
	if err != nil || r.Revoked(3, "tok-a", issued) {
		t.Fatalf("nothing revoked yet: %+v %v", r, err)
	}
	nb, err := cli.RevokeUser(ctx, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	if nb <= issued {
		t.Fatalf("cut-off %d must be after a token issued at %d", nb, issued)
	}
	start := time.Now()
	for {
		r, err = server.Revocations(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if r.Revoked(3, "tok-a", issued) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("the serving catalog did not see the revocation within a second")
		}
		time.Sleep(10 * time.Millisecond)
	}
	switch {
	case r.Revoked(4, "tok-b", issued):
		t.Error("another user's token is revoked")
	case r.Revoked(3, "tok-c", nb):
		t.Error("a token issued at the cut-off is revoked")
	case r.NotBefore(3) != nb:
		t.Errorf("NotBefore = %d, want %d", r.NotBefore(3), nb)
	}
	if other, _ := server.Revocations(ctx, 8); other.Revoked(3, "tok-a", issued) {
		t.Error("another tenant's user 3 is revoked")
	}

	// One token, then the whole tenant; the revoking process sees both at once.
	if err := cli.RevokeToken(ctx, 9, "tok-z", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, _ := cli.Revocations(ctx, 9); !r.Revoked(1, "tok-z", nb) || r.Revoked(1, "tok-y", issued) {
		t.Errorf("token revocation: %+v", r)
	}
	if _, err := cli.RevokeTenant(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if r, _ := cli.Revocations(ctx, 9); !r.Revoked(0, "", issued) {
		t.Errorf("tenant revocation: %+v", r)
	}
	// Superseded per-user rows are pruned: the state stays one row per user.
	for range 3 {
		if _, err := cli.RevokeUser(ctx, 7, 3); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := cli.DB().QueryRow(`SELECT count(*) FROM token_revocations WHERE tenant_id = 7 AND user_id = 3`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rows for one user (%v)", n, err)
	}
}

// Concurrent writers of the platform trail (two processes) never break
// the chain.
func TestPlatformAuditConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	a, _ := mustOpen(t, path, -1)
	b, _ := mustOpen(t, path, -1)
	done := make(chan error, 40)
	for i := range 40 {
		c := a
		if i%2 == 1 {
			c = b
		}
		go func() {
			_, err := c.Audit(ctx, audit.Entry{Role: "operator", Action: "tenant.create", TargetType: "tenant", TargetID: catalog.FormatID(int64(i))})
			done <- err
		}()
	}
	for range 40 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	v, err := a.VerifyAudit(ctx)
	if err != nil || v.Count != 40 || len(v.Findings) != 0 {
		t.Fatalf("chain after concurrent writes: %v %v", v.Summary(), err)
	}
	page, next, err := a.AuditEntries(ctx, catalog.AuditQuery{Limit: 15})
	if err != nil || len(page) != 15 || page[0].Seq != 40 || next != 26 {
		t.Fatalf("first page: %d entries, next %d, %v", len(page), next, err)
	}
}

// BenchmarkRevocationsCached is the hot-path cost of the revocation check:
// a cached snapshot lookup plus the comparisons.
func BenchmarkRevocationsCached(b *testing.B) {
	ctx := context.Background()
	c, _ := mustOpen(b, filepath.Join(b.TempDir(), "catalog.db"), -1)
	if _, err := c.RevokeUser(ctx, 7, 3); err != nil {
		b.Fatal(err)
	}
	now := time.Now().Unix() + 5
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Revocations(ctx, 7)
		if err != nil || r.Revoked(2, "some-token-id", now) {
			b.Fatal("unexpected", err)
		}
	}
}

package tenants_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard"
)

// TestRules: one set of rules, reported per field with the same messages
// for every door.
func TestRules(t *testing.T) {
	e := newEnv(t)
	ok := tenants.CreateRequest{Host: "acme", Name: "Acme Savings", Country: "GH"}
	with := func(f func(*tenants.CreateRequest)) tenants.CreateRequest { r := ok; f(&r); return r }
	cases := []struct {
		name  string
		req   tenants.CreateRequest
		field string
		want  string
	}{
		{"ReservedAPI", with(func(r *tenants.CreateRequest) { r.Host = "api" }), "host", "is reserved"},
		{"ReservedWWW", with(func(r *tenants.CreateRequest) { r.Host = "www" }), "host", "is reserved"},
		{"ReservedAdmin", with(func(r *tenants.CreateRequest) { r.Host = "admin" }), "host", "is reserved"},
		{"DemoPrefix", with(func(r *tenants.CreateRequest) { r.Host = "demo-abcdefghij" }), "host", "is reserved"},
		{"HostShort", with(func(r *tenants.CreateRequest) { r.Host = "ab" }), "host", "3–40"},
		{"HostUpper", with(func(r *tenants.CreateRequest) { r.Host = "Acme" }), "host", "lowercase"},
		{"HostDoubleHyphen", with(func(r *tenants.CreateRequest) { r.Host = "xn--acme" }), "host", "consecutive"},
		{"PlanGold", with(func(r *tenants.CreateRequest) { r.Plan = "gold" }), "subscription_plan", "must be one of starter, growth, enterprise"},
		{"NameOneChar", with(func(r *tenants.CreateRequest) { r.Name = "A" }), "name", "at least 2"},
		{"NameLong", with(func(r *tenants.CreateRequest) { r.Name = strings.Repeat("a", 201) }), "name", "at most 200"},
		{"NameBidi", with(func(r *tenants.CreateRequest) { r.Name = "Evil\u202Egnp.exe" }), "name", "bidirectional"},
		{"NameControl", with(func(r *tenants.CreateRequest) { r.Name = "Two\nLines" }), "name", "control"},
		{"Country", with(func(r *tenants.CreateRequest) { r.Country = "XX" }), "country", "supported"},
		{"DomainUnderRoot", with(func(r *tenants.CreateRequest) { r.CustomDomain = "x.microfi.test" }), "custom_domain", "root domain"},
		{"DomainPort", with(func(r *tenants.CreateRequest) { r.CustomDomain = "bank.example.com:443" }), "custom_domain", "bare host"},
		{"DomainSingleLabel", with(func(r *tenants.CreateRequest) { r.CustomDomain = "bank" }), "custom_domain", "DNS name"},
		{"StatusDemo", with(func(r *tenants.CreateRequest) { r.Status = "demo" }), "status", "active or suspended"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.Create(context.Background(), c.req)
			var verr *tenants.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if !strings.Contains(verr.Fields[c.field], c.want) {
				t.Errorf("fields[%s] = %q, want %q (all %v)", c.field, verr.Fields[c.field], c.want, verr.Fields)
			}
		})
	}
	if _, total, _ := e.cat.List(context.Background(), catalog.ListOptions{}); total != 0 {
		t.Errorf("refused creates left %d tenants", total)
	}
	if files, _ := filepath.Glob(filepath.Join(e.dir, "tenants", "*")); len(files) != 0 {
		t.Errorf("refused creates left files %v", files)
	}
	if _, err := e.svc.Create(context.Background(), with(func(r *tenants.CreateRequest) {
		r.Name, r.CustomDomain, r.Plan = " Société Générale 合作社 ", "Bank.Example.COM.", "growth"
	})); err != nil {
		t.Fatalf("valid tenant refused: %v", err)
	}
	// Updates follow the same rules.
	tn, _ := e.cat.Resolve(context.Background(), "acme")
	if tn.CustomDomain != "bank.example.com" || tn.Name != "Société Générale 合作社" {
		t.Errorf("not normalised: %+v", tn)
	}
	var verr *tenants.ValidationError
	if _, err := e.svc.Update(context.Background(), tn.ID, tenants.Change{Plan: ptr("gold"), Name: ptr("A")}); !errors.As(err, &verr) ||
		verr.Fields["subscription_plan"] == "" || verr.Fields["name"] == "" {
		t.Errorf("update with bad plan and name: %v", err)
	}
	if _, err := e.svc.Update(context.Background(), tn.ID, tenants.Change{Status: ptr("demo")}); !errors.As(err, &verr) {
		t.Errorf("active → demo allowed: %v", err)
	}
}

// TestLostUpdate: 200 pairs of concurrent updates, one changing the name and
// one the status: neither is ever lost.
func TestLostUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.create(t, "racer")
	const pairs = 200
	for i := range pairs {
		name := fmt.Sprintf("Racer %d", i)
		status := catalog.StatusSuspended
		if i%2 == 1 {
			status = catalog.StatusActive
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := e.svc.Update(ctx, tn.ID, tenants.Change{Name: &name}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := e.svc.Update(ctx, tn.ID, tenants.Change{Status: &status}); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		got, err := e.cat.Get(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name || got.Status != status {
			t.Fatalf("pair %d: got name %q status %q, want %q %q: an update was lost", i, got.Name, got.Status, name, status)
		}
	}
}

// TestCreateCancelledNoOrphan: whenever the caller's context ends — before,
// during or after the catalog INSERT commits — a create leaves a whole
// tenant or nothing: no row, no file, no temp file.
func TestCreateCancelledNoOrphan(t *testing.T) {
	for _, step := range []string{"inserted", "building", "built"} {
		t.Run(step, func(t *testing.T) {
			var cancel context.CancelFunc
			e := newEnv(t, func(o *tenants.Options) {
				o.Hook = func(s string) {
					if s == step {
						cancel()
					}
				}
			})
			ctx, c := context.WithCancel(context.Background())
			cancel = c
			seeded := false
			tn, err := e.svc.Create(ctx, tenants.CreateRequest{Host: "orphan", Name: "Orphan", Country: "GH",
				Seed: func(ctx context.Context, db *sql.DB, id int64) error {
					if err := ctx.Err(); err != nil {
						return err
					}
					seeded = true
					return nil
				}})
			assertWholeOrNone(t, e, "orphan", tn, err)
			if step == "built" && (err != nil || !seeded) {
				t.Errorf("a create cancelled after its database was in place should finish: %v", err)
			}
		})
	}
	// And by deadline, at whatever point it lands.
	for _, d := range []time.Duration{time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond, 8 * time.Millisecond, 30 * time.Millisecond} {
		e := newEnv(t)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		tn, err := e.svc.Create(ctx, tenants.CreateRequest{Host: "deadline", Name: "Deadline", Country: "GH"})
		cancel()
		assertWholeOrNone(t, e, "deadline", tn, err)
	}
}

func assertWholeOrNone(t *testing.T, e *env, host string, tn catalog.Tenant, err error) {
	t.Helper()
	ctx := context.Background()
	rows, _ := e.cat.IDs(ctx)
	files, _ := filepath.Glob(filepath.Join(e.dir, "tenants", "*"))
	var dbs []string
	for _, f := range files {
		if fi, _ := os.Stat(f); fi != nil && !fi.IsDir() {
			dbs = append(dbs, f)
		}
	}
	if err == nil {
		got, gerr := e.cat.Resolve(ctx, host)
		if gerr != nil || got.ID != tn.ID {
			t.Fatalf("created but not found: %v", gerr)
		}
		h, aerr := e.shards.Acquire(ctx, tn.ID, "")
		if aerr != nil {
			t.Fatalf("created but database unusable: %v", aerr)
		}
		h.Release()
		return
	}
	if len(rows) != 0 || len(dbs) != 0 {
		t.Fatalf("failed create (%v) left rows %v and files %v", err, rows, dbs)
	}
}

// TestReconcile: every state a crash can leave is repaired.
func TestReconcile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	whole := e.create(t, "whole")
	hostname, _ := os.Hostname()
	dead := hostname + " " + filepath.Join(e.dir, "tenants", ".provisioning", "dead.lock") // a crashed owner's (unlocked) lock
	// A: row inserted, nothing built (crash right after the INSERT).
	a, err := e.cat.InsertProvisioning(ctx, catalog.Tenant{Host: "crash-a", Name: "A", CountryCode: "GH", Status: "active"}, dead)
	if err != nil {
		t.Fatal(err)
	}
	// B: row inserted, temp file half-built.
	b, _ := e.cat.InsertProvisioning(ctx, catalog.Tenant{Host: "crash-b", Name: "B", CountryCode: "GH", Status: "active"}, dead)
	os.WriteFile(shard.TempPath(e.shards.Path(b.ID)), []byte("partial"), 0o640)
	// C: database built and linked into place, row not yet flipped.
	c, _ := e.cat.InsertProvisioning(ctx, catalog.Tenant{Host: "crash-c", Name: "C", CountryCode: "GH", Status: "demo",
		ExpiresAt: e.clock().Add(time.Hour)}, dead)
	if err := e.shards.Provision(ctx, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	// D: an unstamped file in place under a provisioning row (never
	// happens with this binary's linking, but an older one left these).
	d, _ := e.cat.InsertProvisioning(ctx, catalog.Tenant{Host: "crash-d", Name: "D", CountryCode: "GH", Status: "active"}, dead)
	os.WriteFile(e.shards.Path(d.ID), nil, 0o640)
	// E: a stamped database whose row was deleted (crash inside Delete).
	if err := e.shards.Provision(ctx, 99, ""); err != nil {
		t.Fatal(err)
	}
	// F: a live create of another process: left alone.
	live := tenants.New(tenants.Options{Catalog: e.cat, Shards: e.shards})
	started, release := make(chan struct{}), make(chan struct{})
	liveErr := make(chan error, 1)
	go func() {
		_, err := live.Create(ctx, tenants.CreateRequest{Host: "live-one", Name: "Live", Country: "GH",
			Seed: func(context.Context, *sql.DB, int64) error { close(started); <-release; return nil }})
		liveErr <- err
	}()
	<-started

	rep, err := e.svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report %+v", rep)
	if fmt.Sprint(rep.Finished) != fmt.Sprint([]int64{c.ID}) {
		t.Errorf("finished %v, want [%d]", rep.Finished, c.ID)
	}
	if fmt.Sprint(rep.Removed) != fmt.Sprint([]int64{a.ID, b.ID, d.ID}) {
		t.Errorf("removed %v, want [%d %d %d]", rep.Removed, a.ID, b.ID, d.ID)
	}
	if len(rep.Quarantined) != 2 {
		t.Errorf("quarantined %v, want D's unstamped file and tenant 99's", rep.Quarantined)
	}
	for _, q := range rep.Quarantined {
		if !strings.HasPrefix(q, filepath.Join(e.dir, "quarantine", "2026-11-28")+string(filepath.Separator)) {
			t.Errorf("quarantined to %s", q)
		}
		if _, err := os.Stat(q); err != nil {
			t.Errorf("quarantined file missing: %v", err)
		}
	}
	if got, err := e.cat.Get(ctx, c.ID); err != nil || got.Status != catalog.StatusDemo {
		t.Errorf("finished tenant: %+v, %v", got, err)
	}
	close(release)
	if err := <-liveErr; err != nil {
		t.Fatalf("live create broken by reconcile: %v", err)
	}
	// Every row has its stamped database, every database its row.
	rows, _ := e.cat.IDs(ctx)
	for id := range rows {
		tn, err := e.cat.Get(ctx, id)
		if err != nil {
			t.Errorf("row %d invisible: %v", id, err)
			continue
		}
		h, err := e.shards.Acquire(ctx, id, "")
		if err != nil {
			t.Errorf("tenant %s: %v", tn.Host, err)
			continue
		}
		h.Release()
	}
	if len(rows) != 3 || rows[whole.ID] != "" {
		t.Errorf("rows %v, want whole, crash-c and live-one", rows)
	}
	entries, _ := os.ReadDir(filepath.Join(e.dir, "tenants"))
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), ".") && en.Name() != ".provisioning" && !strings.HasPrefix(en.Name(), ".template") {
			t.Errorf("left behind %s", en.Name())
		}
	}
	// Idempotent.
	if rep, err := e.svc.Reconcile(ctx); err != nil || !rep.Empty() {
		t.Errorf("second reconcile: %+v, %v", rep, err)
	}

	// A row another machine is provisioning is left alone until it is
	// StaleAfter old; a visible row whose file is gone is reported only.
	other, _ := e.cat.InsertProvisioning(ctx, catalog.Tenant{Host: "elsewhere", Name: "Elsewhere", CountryCode: "GH", Status: "active"},
		"other-machine /data/tenants/.provisioning/x.lock")
	os.Remove(e.shards.Path(whole.ID))
	e.setClock(time.Now())
	rep, err = e.svc.Reconcile(ctx)
	if err != nil || len(rep.Removed) != 0 || fmt.Sprint(rep.Missing) != fmt.Sprint([]int64{whole.ID}) {
		t.Errorf("fresh foreign row / missing file: %+v, %v", rep, err)
	}
	if _, err := e.cat.Get(ctx, whole.ID); err != nil {
		t.Errorf("a tenant with a missing file was deleted: %v", err)
	}
	e.setClock(time.Now().Add(tenants.StaleAfter + time.Minute))
	if rep, err := e.svc.Reconcile(ctx); err != nil || fmt.Sprint(rep.Removed) != fmt.Sprint([]int64{other.ID}) {
		t.Errorf("stale foreign row: %+v, %v", rep, err)
	}
}

// TestIDsNeverReused: neither the next id nor an explicit one comes back
// after a delete.
func TestIDsNeverReused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a := e.create(t, "first")
	b := e.create(t, "second")
	for _, tn := range []catalog.Tenant{a, b} {
		if _, err := e.svc.Delete(ctx, tn.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	c := e.create(t, "third")
	if c.ID <= b.ID {
		t.Errorf("new tenant got id %d after %d was deleted", c.ID, b.ID)
	}
	var verr *tenants.ValidationError
	_, err := e.svc.Create(ctx, tenants.CreateRequest{ID: a.ID, Host: "again", Name: "Again", Country: "GH"})
	if !errors.As(err, &verr) || !strings.Contains(verr.Fields["id"], "never reused") {
		t.Errorf("explicit reused id: %v", err)
	}
	d, err := e.svc.Create(ctx, tenants.CreateRequest{ID: 50, Host: "fifty", Name: "Fifty", Country: "GH"})
	if err != nil || d.ID != 50 {
		t.Fatalf("explicit unused id: %+v %v", d, err)
	}
	if next := e.create(t, "next"); next.ID != 51 {
		t.Errorf("after 50 came %d", next.ID)
	}
	// Refused creates leave nothing, not even under an unused id.
	if _, err := os.Stat(e.shards.Path(a.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file of refused id: %v", err)
	}
}

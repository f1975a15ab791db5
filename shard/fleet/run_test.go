package fleet_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
)

// addNickname is the kind of change the issue benchmarks: one column plus an
// index. It also records itself in fleet_once so applying it twice would show.
var addNickname = migrations.Migration{
	Version: 5, Name: "account_nickname",
	SQL: `ALTER TABLE accounts ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
CREATE INDEX idx_accounts_nickname ON accounts(tenant_id, nickname);
CREATE TABLE fleet_once (n INTEGER NOT NULL);
INSERT INTO fleet_once (n) VALUES (1);`,
}

// uniqueNames fails on any tenant with two users of the same name: a
// data-dependent failure.
var uniqueNames = migrations.Migration{
	Version: 6, Name: "unique_user_names",
	SQL: `CREATE UNIQUE INDEX idx_users_tenant_name ON users(tenant_id, name);`,
}

func seedUsers(dupEvery int) func(db *sql.DB, id int64) error {
	return func(db *sql.DB, id int64) error {
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("user %d", i)
			if dupEvery > 0 && id%int64(dupEvery) == 0 && i == 2 {
				name = "user 0" // the duplicate the unique index trips on
			}
			if _, err := db.Exec(`INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES (?, ?, ?, 'x', 'customer')`,
				id, fmt.Sprintf("u%d@example.com", i), name); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestRun(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ctx := context.Background()
		targets := provision(t, t.TempDir(), 200, nil)
		set := migrations.Tenant.With(addNickname)
		var calls int
		sum, err := fleet.Run(ctx, targets, fleet.Options{Set: set, Concurrency: 4, Progress: func(p fleet.Progress) {
			calls++
			if p.Total != 200 || p.Done != calls {
				t.Errorf("progress %+v after %d calls", p, calls)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := [3]int{sum.Migrated, sum.Current, sum.Failed}, [3]int{200, 0, 0}; got != want {
			t.Fatalf("migrated/current/failed = %v, want %v (%v)", got, want, sum.FailedResults())
		}
		for _, tg := range targets {
			if got, want := appliedVersions(t, tg), []int{1, 2, 4, 5}; !reflect.DeepEqual(got, want) {
				t.Fatalf("tenant %d versions %v, want %v", tg.ID, got, want)
			}
		}
		if n := queryInt(t, targets[17], `SELECT count(*) FROM pragma_table_info('accounts') WHERE name = 'nickname'`); n != 1 {
			t.Fatalf("nickname column missing")
		}
		// A rerun finds every tenant current and applies nothing.
		sum, err = fleet.Run(ctx, targets, fleet.Options{Set: set, Concurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Current != 200 || sum.Migrated != 0 {
			t.Fatalf("rerun: %+v", sum)
		}
		for _, tg := range targets[:10] {
			if n := queryInt(t, tg, `SELECT count(*) FROM fleet_once`); n != 1 {
				t.Fatalf("tenant %d: migration applied %d times", tg.ID, n)
			}
		}
	})

	t.Run("DataDependentFailureThenFix", func(t *testing.T) {
		ctx := context.Background()
		targets := provision(t, t.TempDir(), 200, seedUsers(10))
		set := migrations.Tenant.With(addNickname, uniqueNames)

		// Dry run: finds the 20 bad tenants, changes nothing.
		sum, err := fleet.Run(ctx, targets, fleet.Options{Set: set, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Migrated != 180 || sum.Failed != 20 {
			t.Fatalf("dry run: migrated %d failed %d", sum.Migrated, sum.Failed)
		}
		for _, tg := range targets {
			if got := appliedVersions(t, tg); !reflect.DeepEqual(got, []int{1, 2, 4}) {
				t.Fatalf("dry run changed tenant %d: %v", tg.ID, got)
			}
		}

		backups := t.TempDir()
		sum, err = fleet.Run(ctx, targets, fleet.Options{Set: set, Concurrency: 3, BackupDir: backups})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Migrated != 180 || sum.Failed != 20 {
			t.Fatalf("migrated %d failed %d", sum.Migrated, sum.Failed)
		}
		for _, r := range sum.FailedResults() {
			if r.Target.ID%10 != 0 {
				t.Errorf("tenant %d failed unexpectedly: %v", r.Target.ID, r.Err)
			}
			if !strings.Contains(r.Err.Error(), "UNIQUE") || !strings.Contains(r.Err.Error(), "0006_unique_user_names") {
				t.Errorf("tenant %d error %q does not name the migration and constraint", r.Target.ID, r.Err)
			}
			// The failed migration left nothing behind.
			if got := appliedVersions(t, r.Target); !reflect.DeepEqual(got, []int{1, 2, 4, 5}) {
				t.Errorf("failed tenant %d versions %v", r.Target.ID, got)
			}
			if n := queryInt(t, r.Target, `SELECT count(*) FROM sqlite_master WHERE name = 'idx_users_tenant_name'`); n != 0 {
				t.Errorf("failed tenant %d has the index", r.Target.ID)
			}
		}
		// Each migrated tenant was snapshotted at its old version first.
		if _, err := os.Stat(filepath.Join(backups, "7.v4.db")); err != nil {
			t.Fatalf("no backup for tenant 7: %v", err)
		}
		bk := fleet.Target{ID: 7, URL: filepath.Join(backups, "7.v4.db")}
		if got := appliedVersions(t, bk); !reflect.DeepEqual(got, []int{1, 2, 4}) {
			t.Fatalf("backup versions %v", got)
		}

		rep, err := fleet.Status(ctx, targets, set, 6)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rep.Histogram, map[int]int{5: 20, 6: 180}; !reflect.DeepEqual(got, want) {
			t.Fatalf("histogram %v, want %v", got, want)
		}
		if len(rep.Behind()) != 20 || len(rep.Errors()) != 0 {
			t.Fatalf("behind %d errors %v", len(rep.Behind()), rep.Errors())
		}

		// Fix the data, rerun: the 20 finish, nothing is applied twice.
		for _, r := range sum.FailedResults() {
			db := mustOpen(t, pathOf(t, r.Target))
			if _, err := db.Exec(`UPDATE users SET name = 'user 2' WHERE tenant_id = ? AND email = 'u2@example.com'`, r.Target.ID); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		sum, err = fleet.Run(ctx, targets, fleet.Options{Set: set})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Migrated != 20 || sum.Current != 180 || sum.Failed != 0 {
			t.Fatalf("after fix: %+v", sum)
		}
		for _, tg := range targets {
			if got := appliedVersions(t, tg); !reflect.DeepEqual(got, []int{1, 2, 4, 5, 6}) {
				t.Fatalf("tenant %d versions %v", tg.ID, got)
			}
		}
		if n := queryInt(t, targets[9], `SELECT count(*) FROM fleet_once`); n != 1 {
			t.Fatalf("migration 3 applied %d times", n)
		}
	})

	t.Run("ErrChecksumMismatch", func(t *testing.T) {
		ctx := context.Background()
		targets := provision(t, t.TempDir(), 5, nil)
		if _, err := fleet.Run(ctx, targets, fleet.Options{Set: migrations.Tenant.With(addNickname)}); err != nil {
			t.Fatal(err)
		}
		changed := addNickname
		changed.SQL += "\n-- edited after release"
		sum, err := fleet.Run(ctx, targets, fleet.Options{Set: migrations.Tenant.With(changed)})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 5 {
			t.Fatalf("failed %d, want 5", sum.Failed)
		}
		for _, r := range sum.Results {
			if !errors.Is(r.Err, migrations.ErrChecksumMismatch) {
				t.Fatalf("tenant %d: %v", r.Target.ID, r.Err)
			}
		}
	})

	t.Run("ErrStampAndMissing", func(t *testing.T) {
		ctx := context.Background()
		targets := provision(t, t.TempDir(), 2, nil)
		wrong := targets[0]
		wrong.ID = 99 // the catalog points tenant 99 at tenant 1's file
		missing := fleet.Target{ID: 3, URL: filepath.Join(t.TempDir(), "3.db")}
		sum, err := fleet.Run(ctx, []fleet.Target{wrong, missing, targets[1]}, fleet.Options{Set: migrations.Tenant.With(addNickname)})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(sum.Results[0].Err, fleet.ErrStampMismatch) {
			t.Errorf("wrong stamp: %v", sum.Results[0].Err)
		}
		if !errors.Is(sum.Results[1].Err, fleet.ErrMissing) {
			t.Errorf("missing: %v", sum.Results[1].Err)
		}
		if _, err := os.Stat(missing.URL); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("migrate created a missing database")
		}
		if sum.Results[2].Outcome != fleet.Migrated {
			t.Errorf("good tenant: %+v", sum.Results[2])
		}
		if got := appliedVersions(t, targets[0]); !reflect.DeepEqual(got, []int{1, 2, 4}) {
			t.Errorf("tenant 1 migrated through a wrong catalog row: %v", got)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		targets := provision(t, t.TempDir(), 20, nil)
		ctx, cancel := context.WithCancel(context.Background())
		sum, err := fleet.Run(ctx, targets, fleet.Options{Set: migrations.Tenant.With(addNickname), Concurrency: 1,
			Progress: func(p fleet.Progress) {
				if p.Done == 5 {
					cancel()
				}
			}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if sum.Skipped == 0 || sum.Migrated < 5 {
			t.Fatalf("summary %+v", sum)
		}
		sum, err = fleet.Run(context.Background(), targets, fleet.Options{Set: migrations.Tenant.With(addNickname)})
		if err != nil || sum.Migrated+sum.Current != 20 || sum.Migrated == 0 {
			t.Fatalf("resume: %+v %v", sum, err)
		}
	})
}

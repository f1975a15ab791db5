package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
)

const helperEnv = "FLEET_TEST_MIGRATE_DIR"

// TestHelperMigrate is not a test: when helperEnv is set it is the migrate
// process that TestKillHalfway starts and SIGKILLs.
func TestHelperMigrate(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("FLEET_TEST_N"))
	var targets []fleet.Target
	for id := 1; id <= n; id++ {
		targets = append(targets, fleet.Target{ID: int64(id), URL: filepath.Join(dir, fmt.Sprintf("%d.db", id))})
	}
	_, err := fleet.Run(context.Background(), targets, fleet.Options{
		Set: migrations.Tenant.With(addNickname, uniqueNames), Concurrency: 2,
		Progress: func(p fleet.Progress) {
			fmt.Printf("done %d\n", p.Done)
			time.Sleep(2 * time.Millisecond) // keep the run long enough to be killed half-way
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestKillHalfway SIGKILLs a real migrate process half-way through the fleet
// and reruns: every tenant ends on the newest version, each migration
// applied exactly once.
func TestKillHalfway(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	targets := provision(t, dir, n, seedUsers(0))

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMigrate$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, fmt.Sprintf("FLEET_TEST_N=%d", n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "done "); ok {
			if k, _ := strconv.Atoi(d); k >= n/3 {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				break
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper finished before it was killed: %v", err)
	}

	set := migrations.Tenant.With(addNickname, uniqueNames)
	rep, err := fleet.Status(context.Background(), targets, set, 6)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Histogram[4] == 0 || rep.Histogram[4] == n || len(rep.Errors()) > 0 {
		t.Fatalf("after kill, want a half-migrated fleet: %v errors %v", rep.Histogram, rep.Errors())
	}
	t.Logf("after SIGKILL: versions %v", rep.Histogram)

	sum, err := fleet.Run(context.Background(), targets, fleet.Options{Set: set, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Migrated+sum.Current != n {
		t.Fatalf("rerun: %+v %v", sum, sum.FailedResults())
	}
	for _, tg := range targets {
		if got := appliedVersions(t, tg); !reflect.DeepEqual(got, []int{1, 2, 4, 5, 6}) {
			t.Fatalf("tenant %d versions %v", tg.ID, got)
		}
		if n := queryInt(t, tg, `SELECT count(*) FROM fleet_once`); n != 1 {
			t.Fatalf("tenant %d: migration 3 applied %d times", tg.ID, n)
		}
		if n := queryInt(t, tg, `SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'`); n != 0 {
			t.Fatalf("tenant %d fails integrity_check", tg.ID)
		}
	}
}

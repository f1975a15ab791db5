package fleet_test

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
)

// benchFleets keeps one fleet per size across sub-benchmarks; each run adds
// a new migration version, so the same databases serve every concurrency.
var (
	benchFleets  = map[int][]fleet.Target{}
	benchVersion = 100
)

// BenchmarkMigrateFleet times migrating N small tenant databases, each
// with one pending migration (one ALTER TABLE ADD COLUMN plus an index), at
// concurrency 1, 2 and 4. Run with -benchtime=1x; the 10,000-tenant fleet
// (about 1 GB in a temp dir) is only built when TENANTGATE_BENCH_10K is set:
//
//	go test ./shard/fleet -run '^$' -bench 'MigrateFleet/tenants=1000$/' -benchtime=1x
//	TENANTGATE_BENCH_10K=1 go test ./shard/fleet -run '^$' -bench 'MigrateFleet/tenants=10000/' -benchtime=1x -timeout 60m
func BenchmarkMigrateFleet(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			if n > 1000 && os.Getenv("TENANTGATE_BENCH_10K") == "" {
				b.Skip("set TENANTGATE_BENCH_10K=1 to build and migrate the 10,000-tenant fleet (~1 GB, minutes)")
			}
			targets, ok := benchFleets[n]
			if !ok {
				dir, err := os.MkdirTemp("", "fleet-bench")
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
				targets = provision(b, dir, n, nil)
				benchFleets[n] = targets
			}
			for _, c := range []int{1, 2, 4} {
				b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
					var cpu time.Duration
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						benchVersion++
						set := migrations.Tenant.With(benchMigrations(benchVersion)...)
						b.StartTimer()
						before := cpuTime()
						sum, err := fleet.Run(context.Background(), targets, fleet.Options{Set: set, Concurrency: c})
						cpu += cpuTime() - before
						if err != nil || sum.Migrated != n {
							b.Fatalf("%v: migrated %d of %d (%v)", err, sum.Migrated, n, sum.FailedResults())
						}
					}
					b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/fleet")
					b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tenants/s")
					// CPU time per tenant (user+sys of this process): the part
					// that does not depend on fsync latency or other load.
					b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n*b.N), "cpu-ms/tenant")
				})
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMigrations is every benchmark migration up to version v: the fleet
// has applied the earlier ones, so exactly v is pending.
func benchMigrations(v int) []migrations.Migration {
	var out []migrations.Migration
	for i := 101; i <= v; i++ {
		out = append(out, migrations.Migration{Version: i, Name: fmt.Sprintf("bench_%d", i), SQL: fmt.Sprintf(
			`ALTER TABLE accounts ADD COLUMN bench_%[1]d TEXT NOT NULL DEFAULT ''; CREATE INDEX idx_accounts_bench_%[1]d ON accounts(tenant_id, bench_%[1]d);`, i)})
	}
	return out
}

package transfer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/shard/transfer"
	"github.com/microfi/tenantgate/shard/transfer/transfertest"
)

// BenchmarkImportLegacy measures the import rate (rows/s, verification
// included) of a legacy file with about 100,000 rows into a fresh tenant
// database:
//
//	go test ./shard/transfer -run '^$' -bench ImportLegacy -benchtime=3x
func BenchmarkImportLegacy(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	src := filepath.Join(dir, "legacy.db")
	sz := transfertest.Sizes{Users: 5_000, Accounts: 10_000, Transactions: 80_000, Subscriptions: 500, Gateways: 100, Usage: 4_400}
	transfertest.WriteLegacy(b, src, sz)
	s, err := transfer.Open(ctx, src, transfer.Legacy)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		target := filepath.Join(dir, fmt.Sprintf("%d.db", i+1))
		transfertest.ProvisionTenant(b, target, int64(i+1))
		b.StartTimer()
		rep, err := s.Import(ctx, int64(i+1), target)
		if err != nil {
			b.Fatal(err)
		}
		if _, added := rep.Rows(); added != int64(sz.Total()) {
			b.Fatalf("added %d of %d", added, sz.Total())
		}
	}
	b.ReportMetric(float64(sz.Total()*b.N)/b.Elapsed().Seconds(), "rows/s")
}

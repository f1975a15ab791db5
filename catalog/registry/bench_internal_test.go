package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/catalog"
)

// BenchmarkBeat is one heartbeat as a busy proxy writes it: its row with
// a full load report (MaxLoadKeys tenants), then the registry read back
// with two peers' equally full reports. With the proxy side of it
// (proxy's BenchmarkFleetReweight) it is the registry's whole cost, paid
// once per --heartbeat-interval off the request path (BENCHMARKS.md).
func BenchmarkBeat(b *testing.B) {
	ctx := context.Background()
	cat, err := catalog.Open(ctx, "file:"+filepath.Join(b.TempDir(), "catalog.db"), catalog.Options{PollInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	load := map[string]float64{}
	for i := range MaxLoadKeys {
		load[fmt.Sprintf("t:%d", i+1)] = float64(i%97) + 0.5
	}
	var regs []*Registry
	for _, id := range []string{"self", "p2", "p3"} {
		r, err := New(cat, Options{ID: id, Address: id + ":8080", TenantSchema: 4, Load: func() map[string]float64 { return load }})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.beat(ctx, true); err != nil {
			b.Fatal(err)
		}
		regs = append(regs, r)
	}
	peers := 0
	regs[0].opts.OnPeers = func(_ string, live []Proxy) { peers = len(live) }
	b.ReportAllocs()
	for b.Loop() {
		if err := regs[0].beat(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
	if peers != 3 {
		b.Fatalf("%d live proxies, want 3", peers)
	}
}

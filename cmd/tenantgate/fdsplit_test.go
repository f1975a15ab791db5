package main

import (
	"testing"

	"github.com/microfi/tenantgate/shard"
)

// The file limit is split so that the reserve, inbound connections, the
// sockets they forward on and tenant databases never add up to more than
// the limit, with the figures the README gives.
func TestSplitFDs(t *testing.T) {
	for _, tc := range []struct {
		nofile           uint64
		maxConns         int
		conns, databases int
	}{
		{20_000, 0, 4_936, 4_524},
		{1_048_576, 0, 50_000, 328_606},
		{1_024, 0, 192, 176},
		{20_000, 1_000, 1_000, 6_164},
		{0, 0, 16, 16},
	} {
		s := splitFDs(tc.nofile, tc.maxConns)
		dbs := shard.MaxOpenForLimit(s.tenants)
		if s.conns != tc.conns || dbs != tc.databases {
			t.Errorf("nofile %d, --max-conns %d: %d connections, %d databases; want %d, %d", tc.nofile, tc.maxConns, s.conns, dbs, tc.conns, tc.databases)
		}
		if tc.nofile > 0 {
			if used := uint64(fdReserve+s.conns+s.outbound) + s.tenants; used > tc.nofile {
				t.Errorf("nofile %d: split uses %d", tc.nofile, used)
			}
		}
	}
}

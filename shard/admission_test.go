package shard_test

import (
	"context"
	"database/sql"
	"testing"
)

// Tenants touched twice stay open through a one-off scan of many others,
// which cycles through probation; a scanned tenant that comes back soon is
// admitted to the main segment.
func TestScanDoesNotFlushWorkingSet(t *testing.T) {
	ctx := context.Background()
	const maxOpen, hot, scan = 8, 4, 30
	m := newManager(t, maxOpen)
	for id := int64(1); id <= hot+scan; id++ {
		mustProvision(t, m, id)
	}
	acquire := func(id int64) *sql.DB {
		t.Helper()
		h, err := m.Acquire(ctx, id, "")
		if err != nil {
			t.Fatalf("acquire %d: %v", id, err)
		}
		defer h.Release()
		return h.DB
	}
	pools := map[int64]*sql.DB{}
	for id := int64(1); id <= hot; id++ {
		pools[id] = acquire(id)
		acquire(id) // second touch
	}
	for id := int64(hot + 1); id <= hot+scan; id++ {
		acquire(id)
	}
	for id := int64(1); id <= hot; id++ {
		if acquire(id) != pools[id] {
			t.Errorf("tenant %d was closed by a one-off scan", id)
		}
	}
	if m.OpenCount() > maxOpen {
		t.Fatalf("%d open, cap %d", m.OpenCount(), maxOpen)
	}
}

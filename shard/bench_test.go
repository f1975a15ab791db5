package shard_test

import (
	"context"
	"testing"
)

// BenchmarkColdOpen measures a tenant database that is not open: open,
// stamp check, pending-migration check and a first query (the LRU holds one
// database, so every iteration evicts the other tenant).
//
//	go test -run '^$' -bench ColdOpen ./shard/
func BenchmarkColdOpen(b *testing.B) {
	ctx := context.Background()
	m := newManager(b, 1)
	mustProvision(b, m, 1)
	mustProvision(b, m, 2)
	i := 0
	for b.Loop() {
		id := int64(i%2 + 1)
		h, err := m.Acquire(ctx, id, "")
		if err != nil {
			b.Fatal(err)
		}
		var n int
		if err := h.DB.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE tenant_id = ?`, id).Scan(&n); err != nil {
			b.Fatal(err)
		}
		h.Release()
		i++
	}
}

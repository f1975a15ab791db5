package bank_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/seal"
	"github.com/microfi/tenantgate/shard/storage"
)

// BenchmarkPostDurability posts deposits one after another on the bank's
// own pool (synchronous=FULL: each commit is fsynced) and, side by side, on
// a plain read-write pool with the old synchronous=NORMAL (a commit reaches
// the OS, the WAL is fsynced only at checkpoints). The difference is what a
// durable acknowledgement costs per posting.
func BenchmarkPostDurability(b *testing.B) {
	for _, mode := range []struct {
		name string
		open func(ctx context.Context, path string) (*sql.DB, error)
	}{
		{"normal", func(ctx context.Context, path string) (*sql.DB, error) { return storage.Open(ctx, "file:"+path) }},
		{"full", func(ctx context.Context, path string) (*sql.DB, error) {
			return storage.OpenBank(ctx, path, seal.BankAuthorizer)
		}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "t.db")
			if err := shard.Provision(ctx, "file:"+path, 7); err != nil {
				b.Fatal(err)
			}
			db, err := mode.open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s := bank.New(db, 7)
			u := mustUser(b, s, "u@example.com", "customer")
			a := mustAccount(b, s, u.ID, "KES")
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Post(ctx, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1}, bank.PostOptions{IdempotencyKey: ""}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

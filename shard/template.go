package shard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/microfi/tenantgate/migrations"
)

// template is an empty, fully migrated, unstamped tenant database kept in
// memory. Provisioning copies it instead of replaying every migration, which
// turns tens of milliseconds of DDL into one small file write.
type template struct {
	once sync.Once
	data []byte
	err  error
}

// bytes builds the template on first use: migrate a scratch file, fold the
// WAL into it, and keep its bytes.
func (t *template) bytes(ctx context.Context, scratchDir string) ([]byte, error) {
	t.once.Do(func() {
		dir, err := os.MkdirTemp(scratchDir, ".template-")
		if err != nil {
			t.err = fmt.Errorf("build tenant template: %w", err)
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "template.db")
		db, err := Open(ctx, "file:"+path)
		if err != nil {
			t.err = fmt.Errorf("build tenant template: %w", err)
			return
		}
		_, err = migrations.Migrate(ctx, db, migrations.Tenant)
		if err == nil {
			_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.err = fmt.Errorf("build tenant template: %w", err)
			return
		}
		t.data, t.err = os.ReadFile(path)
	})
	return t.data, t.err
}

package shard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// template is an empty, fully migrated, unstamped tenant database kept in
// memory. Provisioning copies it instead of replaying every migration, which
// turns tens of milliseconds of DDL into one small file write.
type template struct {
	mu   sync.Mutex
	data []byte
}

// tenantTemplate is built from the embedded migrations, so one per process
// serves every Manager.
var tenantTemplate template

// bytes builds the template on first use: migrate a scratch file, fold the
// WAL into it, and keep its bytes. A failed build is not remembered (it may
// only be the caller's deadline), so the next provision tries again.
func (t *template) bytes(ctx context.Context, scratchDir string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.data != nil {
		return t.data, nil
	}
	data, err := buildTemplate(ctx, scratchDir)
	if err != nil {
		return nil, fmt.Errorf("build tenant template: %w", err)
	}
	t.data = data
	return data, nil
}

func buildTemplate(ctx context.Context, scratchDir string) ([]byte, error) {
	dir, err := os.MkdirTemp(scratchDir, ".template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := storage.Open(ctx, "file:"+path)
	if err != nil {
		return nil, err
	}
	// auto_vacuum=INCREMENTAL lets a tenant hand freed pages back to the
	// file system (PRAGMA incremental_vacuum). Once the file has a header
	// (WAL mode wrote one) only a VACUUM on the same connection applies it.
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, `PRAGMA auto_vacuum=INCREMENTAL`)
	if err == nil {
		_, err = db.ExecContext(ctx, `VACUUM`)
	}
	if err == nil {
		_, err = migrations.Migrate(ctx, db, migrations.Tenant)
	}
	if err == nil {
		_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

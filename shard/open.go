package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/seal"
	"github.com/microfi/tenantgate/shard/storage"
)

// openChecked opens a tenant database that passed its checks: stamp,
// migrations and, for a local file, the seal audit.
func (m *Manager) openChecked(ctx context.Context, e *entry) (*sql.DB, error) {
	if e.path != "" {
		return m.openLocal(ctx, e)
	}
	return m.openRemote(ctx, e)
}

func setPool(db *sql.DB) {
	db.SetMaxOpenConns(MaxConnsPerTenant)
	db.SetMaxIdleConns(MaxIdleConnsPerTenant)
	db.SetConnMaxIdleTime(ConnIdleTimeout)
}

// openLocal opens the bank pool of a local tenant file with one connection
// and checks the stamp on it. A file unchanged since it last passed the
// full check (checkedFiles) is served from there: one connection, one
// schema parse. Otherwise the full check runs on a maintenance connection
// beside it. SQLite keeps a closed connection's file descriptor while
// another connection of the process holds the file, so such an open is
// charged one descriptor more (entry.lingers) until the pool closes.
func (m *Manager) openLocal(ctx context.Context, e *entry) (*sql.DB, error) {
	fi, err := statFile(e.path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %s", ErrUnavailable, ErrNotFound, e.path)
	}
	if e.maxPages, err = quotaPages(e.path, e.limits); err != nil {
		return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
	}
	db, err := m.openBank(ctx, e)
	if err != nil {
		return nil, err
	}
	p, err := readPrint(ctx, db, e.id, fi)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
	}
	if p.ino != 0 && m.checked.passed(e.path, p) {
		m.m.checkCached.Inc()
		return db, nil
	}
	m.m.checkFull.Inc()
	e.lingers = true
	if err := m.fullCheck(ctx, e, fi); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
	}
	return db, nil
}

func (m *Manager) openBank(ctx context.Context, e *entry) (*sql.DB, error) {
	db, err := storage.OpenBankWith(ctx, e.path, seal.BankAuthorizer, m.poolConnecting(e), e.maxPages)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	setPool(db)
	return db, nil
}

// fullCheck brings the file's schema up to date and audits it (repairing
// what can be repaired) on a maintenance connection, and remembers the
// file's print when the audit saw the schema it leaves behind.
func (m *Manager) fullCheck(ctx context.Context, e *entry, fi fileIdentity) error {
	maint, err := storage.Open(ctx, e.url)
	if err != nil {
		return err
	}
	defer maint.Close()
	held, err := m.prepare(ctx, maint, e.id)
	if err != nil {
		return err
	}
	if err := m.convertAutoVacuum(ctx, maint, e.path); err != nil {
		return err
	}
	// The audit saw exactly the schema it checked if the cookie did not
	// move meanwhile; a repair moves it, so a repaired file is checked in
	// full once more on its next open before it is remembered.
	before, err := readPrint(ctx, maint, e.id, fi)
	if err != nil {
		return err
	}
	if err := m.repairSchema(ctx, maint, e.id); err != nil {
		return err
	}
	after, err := readPrint(ctx, maint, e.id, fi)
	if err != nil {
		return err
	}
	// A file whose migrations were held back is checked in full again, so
	// they apply once the ceiling rises.
	if after == before && after.ino != 0 && after.cookie != 0 && !held {
		m.checked.record(e.path, after)
	}
	return nil
}

// prepare refuses a database stamped for another tenant and brings its
// schema up to date (each migration in its own short transaction) up to
// the schema ceiling, or refuses it if it is newer than this binary and not
// only by expand-only migrations. It reports whether migrations were held
// back by the ceiling.
func (m *Manager) prepare(ctx context.Context, db *sql.DB, id int64) (held bool, err error) {
	if err := storage.CheckStamp(ctx, db, id); err != nil {
		return false, err
	}
	pending, err := migrations.Pending(ctx, db, migrations.Tenant)
	if errors.Is(err, migrations.ErrSchemaAhead) {
		return false, fmt.Errorf("%w: %w", ErrSchemaAhead, err)
	}
	if err != nil {
		return false, err
	}
	ceiling := migrations.Tenant.Latest()
	if m.cfg.SchemaCeiling != nil {
		ceiling = min(ceiling, m.cfg.SchemaCeiling())
	}
	for _, mig := range pending {
		if mig.Version > ceiling {
			m.m.migrationsHeld.Inc()
			return true, nil
		}
		if err := migrations.Apply(ctx, db, mig, false); err != nil {
			m.m.migrationsFailed.Inc()
			return false, fmt.Errorf("%w: %w", errMigrateOnOpen, err)
		}
		m.m.migrationsApplied.Inc()
	}
	return false, nil
}

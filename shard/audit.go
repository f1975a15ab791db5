package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/microfi/tenantgate/shard/seal"
)

var errForeignSchema = errors.New("foreign schema object touches a managed table")

// repairSchema audits a local tenant database before it is served (see
// package seal). Foreign indexes, triggers and views that touch a managed
// table hold no data: they are dropped, logged and counted. A tenant table
// with a foreign key into a managed table holds the tenant's rows, so the
// database is refused instead (errForeignSchema), until an operator drops
// or rebuilds that table (`tenantgate verify` names it).
func (m *Manager) repairSchema(ctx context.Context, db *sql.DB, id int64) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	found, err := seal.Audit(ctx, seal.SQL(conn, nil))
	if err != nil {
		return fmt.Errorf("schema audit: %w", err)
	}
	var refused []string
	for _, f := range found {
		if !f.Repairable() {
			refused = append(refused, f.String())
			continue
		}
		if _, err := conn.ExecContext(ctx, f.DropSQL()); err != nil {
			return fmt.Errorf("schema repair: %s: %w", f, err)
		}
		m.m.schemaRepairs.Inc()
		m.log.Warn("removed a foreign schema object that touched a managed table",
			"tenant_id", id, "type", f.Type, "object", f.Object, "table", f.Table, "problem", f.Problem)
	}
	if len(refused) > 0 {
		m.log.Error("tenant database refused: a table of the tenant references a managed table",
			"tenant_id", id, "findings", refused)
		return fmt.Errorf("%w: %s", errForeignSchema, strings.Join(refused, "; "))
	}
	return nil
}

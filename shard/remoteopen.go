package shard

import (
	"context"
	"database/sql"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/sqlcheck"
	"github.com/microfi/tenantgate/shard/storage"
)

// A remote tenant's first use must not cost a round trip per check: the
// stamp, the applied migrations and the schema (which SQL forwarding checks
// statements against) come back from one query, in one round trip to the
// server. Anything short of a current, correctly stamped database falls
// back to prepare, whose separate reads give the exact error or migrate.
const remoteOpenQuery = `SELECT 's', NULL, NULL, NULL, tenant_id FROM tenant_stamp WHERE singleton = 1` +
	` UNION ALL SELECT 'm', version, name, checksum, expand_only FROM schema_migrations` +
	` UNION ALL SELECT 'o', type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL`

// remoteSchemas interns schemas by content: tenants made from the same
// template share one copy, however many are open.
const remoteSchemas = 512

// openRemote opens a tenant database on a libSQL server and checks it.
func (m *Manager) openRemote(ctx context.Context, e *entry) (*sql.DB, error) {
	db, err := storage.Open(ctx, e.url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	setPool(db)
	s, ok := m.remoteCheck(ctx, db, e.id)
	if ok {
		m.rm.oneTrip.Inc()
		e.schema = s
		return db, nil
	}
	// A libSQL server: its own authorizer, no audit here.
	m.rm.full.Inc()
	if _, err := m.prepare(ctx, db, e.id); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
	}
	return db, nil
}

// remoteCheck reads stamp, migrations and schema in one round trip and
// reports whether the database is stamped for id with nothing to migrate
// (no migration pending, none unknown). Any error or doubt is false.
func (m *Manager) remoteCheck(ctx context.Context, db *sql.DB, id int64) (*sqlcheck.Schema, bool) {
	rows, err := db.QueryContext(ctx, remoteOpenQuery)
	if err != nil {
		return nil, false
	}
	defer rows.Close()
	var (
		stamped bool
		applied []migrations.Applied
		objs    []sqlcheck.Object
	)
	vals := make([]any, 5)
	ptrs := make([]any, 5)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false
		}
		kind, _ := vals[0].(string)
		switch kind {
		case "s":
			got, ok := vals[4].(int64)
			if !ok || got != id {
				return nil, false
			}
			stamped = true
		case "m":
			v, ok1 := vals[1].(int64)
			name, ok2 := vals[2].(string)
			sum, ok3 := vals[3].(string)
			flag, ok4 := vals[4].(int64)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return nil, false
			}
			applied = append(applied, migrations.Applied{Version: int(v), Name: name, Checksum: sum, ExpandOnly: flag != 0})
		case "o":
			var o sqlcheck.Object
			var ok [4]bool
			o.Type, ok[0] = vals[1].(string)
			o.Name, ok[1] = vals[2].(string)
			o.Table, ok[2] = vals[3].(string)
			o.SQL, ok[3] = vals[4].(string)
			if ok != [4]bool{true, true, true, true} {
				return nil, false
			}
			objs = append(objs, o)
		default:
			return nil, false
		}
	}
	if rows.Err() != nil || !stamped {
		return nil, false
	}
	pending, err := migrations.PendingFrom(applied, migrations.Tenant)
	if err != nil || len(pending) > 0 {
		return nil, false
	}
	return m.internSchema(sqlcheck.NewSchema(objs)), true
}

// internSchema returns the one copy of s's content.
func (m *Manager) internSchema(s *sqlcheck.Schema) *sqlcheck.Schema {
	if old, ok := m.schemas.Get(s.Key()); ok {
		return old
	}
	m.schemas.Add(s.Key(), s)
	return s
}

func newSchemaCache() *lru.Cache[[32]byte, *sqlcheck.Schema] {
	c, _ := lru.New[[32]byte, *sqlcheck.Schema](remoteSchemas)
	return c
}

// RemoteSchema is the schema a remote database had when it was opened
// (nil for a local one, or one opened by the slower path): SQL forwarding
// checks a new stream's first statements against it instead of reading
// the schema again.
func (h *Handle) RemoteSchema() *sqlcheck.Schema { return h.e.schema }

type remoteMetrics struct {
	oneTrip, full prometheus.Counter
}

func newRemoteMetrics(reg prometheus.Registerer) remoteMetrics {
	checks := promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_tenant_db_remote_open_checks_total",
		Help: "Checks of remote tenant databases being opened: one_trip (stamp, migrations and schema read in one round trip) or full (separate reads, to migrate or to name what is wrong).",
	}, []string{"check"})
	return remoteMetrics{oneTrip: checks.WithLabelValues("one_trip"), full: checks.WithLabelValues("full")}
}

// remoteOpenConcurrency bounds remote opens at once: they wait on the
// network (one round trip), not on this machine's CPU, so they have their
// own gate, wider than the CPU-sized one of local opens.
const remoteOpenConcurrency = 16

package registry

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
)

// Proxy is one row of the registry as of the read.
type Proxy struct {
	ID           string           `json:"id"`
	Address      string           `json:"address"`
	Version      string           `json:"version"`
	TenantSchema int              `json:"tenant_schema"` // newest tenant schema version it can serve
	Applied      catalog.Position `json:"applied"`       // change-log position it has applied
	State        string           `json:"state"`         // serving, draining or dead
	StartedAt    time.Time        `json:"started_at"`
	HeartbeatAt  time.Time        `json:"heartbeat_at"`
	// Age is the time since the last heartbeat, on the catalog's clock.
	Age       time.Duration      `json:"-"`
	DeadAfter time.Duration      `json:"-"`
	Load      map[string]float64 `json:"-"` // recent request rate per key
}

// Live reports whether the proxy heartbeats (serving or draining).
func (p Proxy) Live() bool { return p.State != StateDead }

// String names the proxy in reports: "id (address, version v)".
func (p Proxy) String() string {
	if p.Address == p.ID {
		return fmt.Sprintf("%s (version %s)", p.ID, p.Version)
	}
	return fmt.Sprintf("%s (%s, version %s)", p.ID, p.Address, p.Version)
}

// List returns every registered proxy, live or dead, ordered by id. A
// catalog from before the registry has none.
func List(ctx context.Context, cat *catalog.Catalog) ([]Proxy, error) {
	return list(ctx, cat.DB())
}

// Live filters the live proxies.
func Live(all []Proxy) []Proxy {
	var out []Proxy
	for _, p := range all {
		if p.Live() {
			out = append(out, p)
		}
	}
	return out
}

func list(ctx context.Context, db *sql.DB) ([]Proxy, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, address, version, tenant_schema, applied_changes, applied_revocations,
		state, dead_after_ms, started_ms, heartbeat_ms, load, `+nowMS+` FROM proxies ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%w: read proxy registry: %w", catalog.ErrUnavailable, err)
	}
	defer rows.Close()
	var out []Proxy
	for rows.Next() {
		var p Proxy
		var deadAfter, started, beat, now int64
		var load string
		if err := rows.Scan(&p.ID, &p.Address, &p.Version, &p.TenantSchema, &p.Applied.Changes, &p.Applied.Revocations,
			&p.State, &deadAfter, &started, &beat, &load, &now); err != nil {
			return nil, fmt.Errorf("read proxy registry: %w", err)
		}
		p.DeadAfter = time.Duration(deadAfter) * time.Millisecond
		p.StartedAt, p.HeartbeatAt = time.UnixMilli(started).UTC(), time.UnixMilli(beat).UTC()
		p.Age = time.Duration(max(now-beat, 0)) * time.Millisecond
		if p.Age > p.DeadAfter {
			p.State = StateDead
		}
		if load != "" && load != "{}" {
			_ = json.Unmarshal([]byte(load), &p.Load) // written by proxies; a bad one only loses its share data
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func sortDesc[T any](s []T, key func(T) float64) {
	slices.SortFunc(s, func(a, b T) int {
		switch ka, kb := key(a), key(b); {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return 0
	})
}

// SchemaCeiling is the newest version of set that every live proxy can
// serve: each proxy's own newest version, extended through the expand-only
// migrations that follow it, capped at set's newest. Migrate-on-open stops
// there, so a rolling upgrade never migrates a tenant out from under an
// older proxy (expand-only migrations apply at once; the rest wait until the
// older proxies are gone).
func SchemaCeiling(set migrations.Set, live []Proxy) int {
	c := set.Latest()
	for _, p := range live {
		c = min(c, set.Ceiling(p.TenantSchema))
	}
	return c
}

// Package transfer moves tenant data in and out of tenant databases:
// importing a pre-multi-tenant ("legacy") MicroFi database or a shared
// database that holds many tenants, and taking and restoring consistent
// per-tenant snapshots.
//
// Sources are always opened read-only (SQLite URI mode=ro) and never
// changed. An import is checked completely (schema, tenant conflicts, row
// conflicts) before anything is written, then copied in one transaction per
// tenant, then verified (row counts and a per-table checksum of the source
// rows against the imported rows) before that transaction commits. Rows are
// matched by id, so rerunning an import adds nothing.
//
// Like the rest of shard, the package takes plain values (tenant ids and
// paths), never catalog types. A remote tenant database (a libSQL URL) is
// worked on through a local copy and plain SQL (remote.go).
package transfer

import (
	"errors"
	"fmt"

	"github.com/microfi/tenantgate/shard/storage"
)

// ErrSchema means a source file does not have the expected schema.
var ErrSchema = errors.New("unexpected source schema")

// ErrConflict means the target already holds different data under the same
// row id (or a shared tenant's id or host belongs to someone else).
var ErrConflict = errors.New("conflicting data in target")

// ErrStampMismatch means a database or snapshot belongs to another tenant
// (it is storage.ErrStampMismatch, as shard.ErrStampMismatch is).
var ErrStampMismatch = storage.ErrStampMismatch

// ErrVerify means the copied rows do not match the source rows.
var ErrVerify = errors.New("import verification failed")

// ErrRemote means an operation needs a local file but got a libSQL URL.
var ErrRemote = errors.New("database is on a libSQL server; only local tenant databases are supported")

// SeedTables are the six MicroFi tables that imports move, in an order that
// satisfies their foreign keys (users before accounts before transactions).
var SeedTables = []string{"users", "accounts", "transactions", "subscriptions", "gateway_configs", "communication_usage"}

// localPath turns a path or file: URL into a path, refusing remote URLs.
func localPath(rawURL string) (string, error) {
	if storage.IsRemote(rawURL) {
		return "", fmt.Errorf("%w", ErrRemote)
	}
	return storage.LocalPath(rawURL)
}

// LegacySchema is the schema of a pre-multi-tenant MicroFi database that
// Open(…, Legacy) accepts: the tenant schema's six seed tables with the same
// column names and no tenant_id. Columns with a default (and nullable ones)
// may be missing; extra tables and columns are reported and not imported.
// A Shared source has the same tables, each with a tenant_id INTEGER column,
// plus the seed's tenants table (id, host, custom_domain, name,
// country_code, subscription_plan, created_at, status).
const LegacySchema = `CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  email         TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL,            -- customer | staff | admin
  created_at    DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE accounts (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id    INTEGER NOT NULL REFERENCES users(id),
  type       TEXT NOT NULL,               -- savings | current
  currency   TEXT NOT NULL,
  balance    INTEGER NOT NULL DEFAULT 0,  -- minor units, >= 0
  status     TEXT NOT NULL DEFAULT 'active',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE transactions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id       INTEGER REFERENCES users(id),
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  to_account_id INTEGER REFERENCES accounts(id),
  type          TEXT NOT NULL,            -- deposit | withdrawal | transfer
  amount        INTEGER NOT NULL,         -- minor units, > 0
  currency      TEXT NOT NULL,
  description   TEXT NOT NULL DEFAULT '',
  created_at    DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE subscriptions (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  plan         TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'active',
  amount_minor INTEGER NOT NULL DEFAULT 0,
  currency     TEXT NOT NULL,
  started_at   DATETIME DEFAULT CURRENT_TIMESTAMP,
  ends_at      DATETIME
);
CREATE TABLE gateway_configs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  provider   TEXT NOT NULL,
  config     TEXT NOT NULL DEFAULT '{}',
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE communication_usage (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  channel    TEXT NOT NULL,
  units      INTEGER NOT NULL DEFAULT 0,
  cost_minor INTEGER NOT NULL DEFAULT 0,
  period     TEXT NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
`

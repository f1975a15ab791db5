-- Shards (issue 19): where tenant databases live, how new tenants are
-- placed, and the state of tenant moves between shards.
--
-- A shard is a libSQL server, or a URL template on one, hosting many tenant
-- databases. 'local' is the implicit shard of the files under the data dir
-- (its url_template is empty). kind says how a tenant database is created
-- and removed there: tenantgate (another tenantgate's admin API), sqld
-- (namespace create/delete on its admin URL) or libsql (the database
-- exists already, e.g. a Turso database per tenant; migrated in place).
CREATE TABLE shards (
  name         TEXT PRIMARY KEY,
  kind         TEXT NOT NULL DEFAULT 'tenantgate',
  url_template TEXT NOT NULL DEFAULT '',
  admin_url    TEXT NOT NULL DEFAULT '',
  capacity     INTEGER NOT NULL DEFAULT 0, -- tenants at most; 0 = unlimited
  weight       REAL NOT NULL DEFAULT 1,    -- share of new tenants; 0 = none
  status       TEXT NOT NULL DEFAULT 'active', -- active | draining
  created_at   DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at   DATETIME DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO shards (name, kind) VALUES ('local', 'local');

-- The shard each tenant lives on (NULL: a db_url set by hand, or 'local'
-- when db_url is NULL too), and its database size in bytes as last seen
-- (at create and at each move), which placement weighs.
ALTER TABLE tenants ADD COLUMN shard TEXT;
ALTER TABLE tenants ADD COLUMN db_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE tenants SET shard = 'local' WHERE db_url IS NULL;
CREATE INDEX idx_tenants_shard ON tenants(shard);

-- One row per tenant move (at most one unfinished per tenant), so a move
-- killed at any step is resumed by running it again. step is the last step
-- completed; from_url/to_url are the database URLs (credentials included:
-- the catalog is as secret as db_url already is).
CREATE TABLE tenant_moves (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   INTEGER NOT NULL,
  from_shard  TEXT NOT NULL,
  to_shard    TEXT NOT NULL,
  from_url    TEXT NOT NULL DEFAULT '',
  to_url      TEXT NOT NULL DEFAULT '',
  step        TEXT NOT NULL DEFAULT 'planned',
  detail      TEXT NOT NULL DEFAULT '{}',
  started_at  DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at  DATETIME DEFAULT CURRENT_TIMESTAMP,
  finished_at DATETIME,
  cleaned_at  DATETIME
);
CREATE UNIQUE INDEX idx_tenant_moves_open ON tenant_moves(tenant_id) WHERE finished_at IS NULL;
CREATE INDEX idx_tenant_moves_tenant ON tenant_moves(tenant_id, id);

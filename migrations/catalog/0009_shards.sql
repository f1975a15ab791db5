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

-- Ids stay never reused, but may now arrive out of order: a shard's
-- catalog gets each tenant with the id the front proxy's catalog gave it
-- (the database stamp must match both), in whatever order creates and
-- moves reach it. So the rule becomes "an id this catalog ever held is
-- refused" (tenant_ids_used, kept by trigger) instead of "at or below the
-- highest id", which still holds for ids up to the high-water mark at the
-- time of this migration (their use was not recorded).
CREATE TABLE tenant_ids_used (id INTEGER PRIMARY KEY);
INSERT INTO tenant_ids_used (id) SELECT id FROM tenants;
CREATE TABLE tenant_ids_legacy (high INTEGER NOT NULL);
INSERT INTO tenant_ids_legacy (high) SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'tenants';
DROP TRIGGER tenants_id_never_reused;
CREATE TRIGGER tenants_id_never_reused BEFORE INSERT ON tenants
WHEN NEW.id > 0 AND (NEW.id <= (SELECT coalesce(max(high), 0) FROM tenant_ids_legacy)
  OR EXISTS (SELECT 1 FROM tenant_ids_used WHERE id = NEW.id))
BEGIN
  SELECT RAISE(ABORT, 'tenant id was used before');
END;
CREATE TRIGGER tenants_id_recorded AFTER INSERT ON tenants BEGIN
  INSERT OR IGNORE INTO tenant_ids_used (id) VALUES (NEW.id);
END;

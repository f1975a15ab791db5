-- The tenant catalog: the seed's tenants table plus what the proxy needs
-- to reach each tenant's own database.
CREATE TABLE tenants (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  host              TEXT UNIQUE NOT NULL,
  custom_domain     TEXT UNIQUE,
  name              TEXT NOT NULL,
  country_code      TEXT NOT NULL,
  subscription_plan TEXT DEFAULT 'starter',
  created_at        DATETIME DEFAULT CURRENT_TIMESTAMP,
  status            TEXT DEFAULT 'active',
  db_url            TEXT,
  expires_at        DATETIME,
  updated_at        DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_tenants_host ON tenants(host);
CREATE INDEX idx_tenants_custom_domain ON tenants(custom_domain);
CREATE INDEX idx_tenants_expires_at ON tenants(expires_at) WHERE expires_at IS NOT NULL;

-- tenant_changes is a change log written by triggers, so every process
-- sharing the catalog (local file or libSQL server) can invalidate exactly
-- the cache keys that changed by polling "seq > last seen".
CREATE TABLE tenant_changes (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  INTEGER NOT NULL,
  old_host   TEXT,
  old_domain TEXT,
  new_host   TEXT,
  new_domain TEXT,
  changed_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TRIGGER tenants_changes_insert AFTER INSERT ON tenants BEGIN
  INSERT INTO tenant_changes (tenant_id, new_host, new_domain)
  VALUES (NEW.id, NEW.host, NEW.custom_domain);
END;

CREATE TRIGGER tenants_changes_update AFTER UPDATE ON tenants BEGIN
  INSERT INTO tenant_changes (tenant_id, old_host, old_domain, new_host, new_domain)
  VALUES (NEW.id, OLD.host, OLD.custom_domain, NEW.host, NEW.custom_domain);
END;

CREATE TRIGGER tenants_changes_delete AFTER DELETE ON tenants BEGIN
  INSERT INTO tenant_changes (tenant_id, old_host, old_domain)
  VALUES (OLD.id, OLD.host, OLD.custom_domain);
END;

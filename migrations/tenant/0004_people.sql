-- People and their access (issue 16): a user's status, one-time password
-- resets, the second factor (TOTP) with recovery codes, tenant settings,
-- and the tenant's append-only, hash-chained audit trail. Every table
-- carries tenant_id and the stamp guards, which also makes it a managed
-- table (SQL over HTTP may not drop, alter or put triggers on it).
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled'));

-- Only the SHA-256 of a reset token is kept: the token is shown once.
CREATE TABLE password_resets (
  token_hash TEXT PRIMARY KEY,
  tenant_id  INTEGER NOT NULL,
  user_id    INTEGER NOT NULL REFERENCES users(id),
  expires_at INTEGER NOT NULL, -- unix seconds
  used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_password_resets_user ON password_resets(tenant_id, user_id);

-- A user's TOTP secret (RFC 6238). confirmed is set once a code from the
-- authenticator was accepted; last_step is the newest time step accepted,
-- so a code (or an older one) cannot be used twice.
CREATE TABLE user_totp (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id),
  tenant_id  INTEGER NOT NULL,
  secret     TEXT NOT NULL,
  confirmed  INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
  last_step  INTEGER NOT NULL DEFAULT 0,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

-- Single-use recovery codes, stored as SHA-256.
CREATE TABLE recovery_codes (
  tenant_id INTEGER NOT NULL,
  user_id   INTEGER NOT NULL REFERENCES users(id),
  code_hash TEXT NOT NULL,
  used      INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE tenant_settings (
  tenant_id   INTEGER PRIMARY KEY,
  require_2fa INTEGER NOT NULL DEFAULT 0 CHECK (require_2fa IN (0, 1)),
  updated_at  DATETIME DEFAULT CURRENT_TIMESTAMP
);

-- The audit trail: id runs 1, 2, 3… with no gaps; hash covers the row and
-- prev_hash (the hash of row id - 1), so an edit, insertion or deletion
-- behind the proxy's back breaks the chain (tenantgate audit verify).
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  tenant_id   INTEGER NOT NULL,
  at          TEXT NOT NULL,
  user_id     INTEGER NOT NULL DEFAULT 0,
  role        TEXT NOT NULL,
  token_id    TEXT NOT NULL DEFAULT '',
  client_addr TEXT NOT NULL DEFAULT '',
  request_id  TEXT NOT NULL DEFAULT '',
  action      TEXT NOT NULL,
  target_type TEXT NOT NULL DEFAULT '',
  target_id   TEXT NOT NULL DEFAULT '',
  details     TEXT NOT NULL DEFAULT '{}',
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX idx_audit_log_action ON audit_log(tenant_id, action, id);
CREATE INDEX idx_audit_log_user ON audit_log(tenant_id, user_id, id);

CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER password_resets_tenant_guard_insert BEFORE INSERT ON password_resets
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER password_resets_tenant_guard_update BEFORE UPDATE ON password_resets
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER user_totp_tenant_guard_insert BEFORE INSERT ON user_totp
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER user_totp_tenant_guard_update BEFORE UPDATE ON user_totp
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER recovery_codes_tenant_guard_insert BEFORE INSERT ON recovery_codes
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER recovery_codes_tenant_guard_update BEFORE UPDATE ON recovery_codes
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER tenant_settings_tenant_guard_insert BEFORE INSERT ON tenant_settings
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER tenant_settings_tenant_guard_update BEFORE UPDATE ON tenant_settings
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER audit_log_tenant_guard_insert BEFORE INSERT ON audit_log
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER audit_log_tenant_guard_update BEFORE UPDATE ON audit_log
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

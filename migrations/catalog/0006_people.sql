-- Token revocation and the platform audit trail (issue 16).
--
-- token_revocations is append-only apart from pruning: a row revokes one
-- token (token_id), every token of one user issued before not_before
-- (user_id), or every token of the tenant issued before not_before (both
-- NULL). seq doubles as the change log every proxy polls to drop its
-- cached revocation state of exactly the tenants that changed.
CREATE TABLE token_revocations (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  INTEGER NOT NULL,
  user_id    INTEGER,
  token_id   TEXT,
  not_before INTEGER NOT NULL, -- unix seconds: tokens issued earlier are revoked
  expires_at INTEGER,          -- unix seconds: a token row may be pruned after; NULL = kept
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  CHECK (user_id IS NULL OR token_id IS NULL)
);
CREATE INDEX idx_token_revocations_tenant ON token_revocations(tenant_id);
CREATE INDEX idx_token_revocations_expires ON token_revocations(expires_at) WHERE expires_at IS NOT NULL;

-- The platform audit trail: admin API and CLI actions. Same chain as a
-- tenant's audit_log (see package audit).
CREATE TABLE platform_audit (
  id          INTEGER PRIMARY KEY,
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
CREATE INDEX idx_platform_audit_action ON platform_audit(action, id);

CREATE TRIGGER platform_audit_append_only_update BEFORE UPDATE ON platform_audit BEGIN
  SELECT RAISE(ABORT, 'platform_audit is append-only');
END;
CREATE TRIGGER platform_audit_append_only_delete BEFORE DELETE ON platform_audit BEGIN
  SELECT RAISE(ABORT, 'platform_audit is append-only');
END;

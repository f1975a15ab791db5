-- tenantgate:expand-only
-- The proxy registry (issue 20): every serving proxy keeps one row here,
-- refreshed by its heartbeat, so the fleet knows who is running, which
-- tenant schema each can serve and which catalog changes each has applied.
--
-- Times are milliseconds on the catalog's own clock (written by SQL, never
-- by the proxy), so proxies on different machines compare without skew. A
-- proxy is live while heartbeat_ms is within its own dead_after_ms.
CREATE TABLE proxies (
  id                  TEXT PRIMARY KEY,
  address             TEXT NOT NULL,
  version             TEXT NOT NULL,
  tenant_schema       INTEGER NOT NULL,   -- newest tenant schema version it can serve
  applied_changes     INTEGER NOT NULL DEFAULT 0, -- tenant_changes.seq applied
  applied_revocations INTEGER NOT NULL DEFAULT 0, -- token_revocations.seq applied
  state               TEXT NOT NULL DEFAULT 'serving' CHECK (state IN ('serving', 'draining')),
  dead_after_ms       INTEGER NOT NULL,
  started_ms          INTEGER NOT NULL,
  heartbeat_ms        INTEGER NOT NULL,
  load                TEXT NOT NULL DEFAULT '{}' -- recent request rates by key (fleet-wide limits)
);

-- Demo-to-signup conversion. One row per demo created on the public site,
-- kept after the reaper removes the demo tenant, so conversion over 7 and
-- 30 days can be computed; a signup that came from a demo marks its row and
-- records the demo's host on the new tenant. Hosts, ids and times only: no
-- personal data beyond what signup already stores.
CREATE TABLE demo_log (
  demo_host           TEXT PRIMARY KEY,
  created_at          DATETIME NOT NULL,
  converted_tenant_id INTEGER,
  converted_at        DATETIME
);
CREATE INDEX idx_demo_log_created_at ON demo_log(created_at);

ALTER TABLE tenants ADD COLUMN from_demo TEXT;

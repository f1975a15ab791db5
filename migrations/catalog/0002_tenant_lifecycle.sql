-- Crash-consistent provisioning and ids that are never reused.
--
-- A tenant is inserted with status 'provisioning' (invisible to host
-- lookups) while its database is built; pending_status is the status it
-- takes when the database is in place, and provisioning_owner names the
-- process building it (host and lock file), so start-up reconciliation can
-- tell a live create from one a crash left behind.
ALTER TABLE tenants ADD COLUMN pending_status TEXT;
ALTER TABLE tenants ADD COLUMN provisioning_owner TEXT;

CREATE INDEX idx_tenants_provisioning ON tenants(status) WHERE status = 'provisioning';

-- AUTOINCREMENT already keeps the highest id ever used in sqlite_sequence;
-- this refuses an explicit id at or below it, so a deleted tenant's id (and
-- with it any token, backup or file naming it) never comes back.
CREATE TRIGGER tenants_id_never_reused BEFORE INSERT ON tenants
WHEN NEW.id > 0 AND NEW.id <= (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'tenants')
BEGIN
  SELECT RAISE(ABORT, 'tenant id was used before');
END;

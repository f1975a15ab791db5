-- Defense in depth: the database itself refuses a row whose tenant_id is not
-- this file's stamp (an unstamped file refuses every row).

CREATE TRIGGER users_tenant_guard_insert BEFORE INSERT ON users
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER users_tenant_guard_update BEFORE UPDATE ON users
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER accounts_tenant_guard_insert BEFORE INSERT ON accounts
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER accounts_tenant_guard_update BEFORE UPDATE ON accounts
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER transactions_tenant_guard_insert BEFORE INSERT ON transactions
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER transactions_tenant_guard_update BEFORE UPDATE ON transactions
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER subscriptions_tenant_guard_insert BEFORE INSERT ON subscriptions
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER subscriptions_tenant_guard_update BEFORE UPDATE ON subscriptions
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER gateway_configs_tenant_guard_insert BEFORE INSERT ON gateway_configs
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER gateway_configs_tenant_guard_update BEFORE UPDATE ON gateway_configs
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER communication_usage_tenant_guard_insert BEFORE INSERT ON communication_usage
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER communication_usage_tenant_guard_update BEFORE UPDATE ON communication_usage
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER idempotency_keys_tenant_guard_insert BEFORE INSERT ON idempotency_keys
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

CREATE TRIGGER idempotency_keys_tenant_guard_update BEFORE UPDATE ON idempotency_keys
WHEN NEW.tenant_id IS NOT (SELECT tenant_id FROM tenant_stamp WHERE singleton = 1)
BEGIN
  SELECT RAISE(ABORT, 'tenant_id does not match this database''s tenant stamp');
END;

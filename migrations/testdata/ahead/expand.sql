-- tenantgate:expand-only
-- Test only (build tag tenantgate_schema_ahead): the next tenant schema
-- version, adding only (a new tg_ table and a new nullable column), so a
-- binary that predates it keeps serving.
CREATE TABLE tg_ahead_notes (
  id        INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL,
  note      TEXT
);
ALTER TABLE accounts ADD COLUMN nickname TEXT;

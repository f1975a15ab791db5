-- Test only (build tag tenantgate_schema_ahead, aheadKind=contract): a
-- migration that is not expand-only (it drops what the one before added),
-- so a binary that predates it must refuse a database that has it.
DROP TABLE tg_ahead_notes;

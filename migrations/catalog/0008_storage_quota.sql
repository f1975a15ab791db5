-- Per-tenant storage quota override (issue 14). NULL: the plan's default
-- (catalog/tenants.PlanQuota); otherwise the tenant's database may grow to
-- this many bytes (PRAGMA max_page_count on every connection).
ALTER TABLE tenants ADD COLUMN quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes > 0);

// Package verify proves a tenant database's ledger: the file is intact and
// stamped, every row carries the tenant's id, every balance equals the sum
// of its postings, every idempotency record matches the posting it
// answered, and no foreign schema object touches a managed table (package
// seal). It only reads, from one snapshot, so it is safe beside a live
// proxy; `tenantgate verify` and the proxy's continuous audit run it.
package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/seal"
	"github.com/microfi/tenantgate/shard/storage"
)

// Checks, in the order they run (also the label values of the audit
// metric).
const (
	CheckIntegrity   = "integrity"
	CheckStamp       = "stamp"
	CheckTenantID    = "tenant_id"
	CheckBalance     = "balance"
	CheckIdempotency = "idempotency"
	CheckSchema      = "schema"
	CheckOpen        = "open" // the database could not be read at all
)

// Checks lists every check name.
var Checks = []string{CheckIntegrity, CheckStamp, CheckTenantID, CheckBalance, CheckIdempotency, CheckSchema, CheckOpen}

// maxPerCheck bounds the findings one check reports for one tenant.
const maxPerCheck = 20

// Finding is one thing wrong with a tenant database.
type Finding struct {
	Check     string `json:"check"`
	AccountID int64  `json:"account_id,omitempty"`
	Table     string `json:"table,omitempty"`
	Detail    string `json:"detail"`
}

func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Check)
	if f.AccountID != 0 {
		fmt.Fprintf(&b, " account %d", f.AccountID)
	}
	if f.Table != "" {
		b.WriteString(" table " + f.Table)
	}
	return b.String() + ": " + f.Detail
}

// Report is the result for one tenant.
type Report struct {
	TenantID int64     `json:"tenant_id"`
	Host     string    `json:"host,omitempty"`
	OK       bool      `json:"ok"`
	Findings []Finding `json:"findings"`
	// Remote: the database is on a libSQL server, read over its client.
	Remote bool `json:"remote,omitempty"`
	// Skipped lists the checks the database's server could not run, with
	// its answer (integrity_check on a server without it). Not findings.
	Skipped  []Skip  `json:"skipped,omitempty"`
	Accounts int64   `json:"accounts"`
	Postings int64   `json:"postings"`
	Elapsed  float64 `json:"elapsed_seconds"`
}

// Skip is a check that could not run.
type Skip struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Target is one tenant database to verify.
type Target struct {
	ID   int64
	Host string
	URL  string // file: URL or path, or a libSQL server's URL (remote)
}

// Tenant verifies one tenant database, read-only. A database that cannot be
// opened or read is a finding (CheckOpen), not an error: the report is the
// answer. err is returned only when ctx ends.
func Tenant(ctx context.Context, t Target) (Report, error) {
	start := time.Now()
	r := Report{TenantID: t.ID, Host: t.Host, Findings: []Finding{}}
	err := run(ctx, t, &r)
	if err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.Findings = append(r.Findings, Finding{Check: CheckOpen, Detail: err.Error()})
	}
	r.OK = len(r.Findings) == 0
	r.Elapsed = time.Since(start).Seconds()
	return r, nil
}

// querier is where a check reads rows: one connection inside a read
// transaction (local), or a libSQL client's pool (remote).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// source is one tenant database as the checks see it.
type source struct {
	data querier
	// schema answers questions about the schema: the database itself
	// (local), or a copy of its schema on a scratch database (remote,
	// where the audit's probes cannot run).
	schema seal.Conn
	// version is the database's latest migration (-1: read it from schema).
	version int
	remote  bool
}

type check func(context.Context, *source, Target, func(Finding)) error

var checks = []check{integrity, stamp, tenantIDs, balances, idempotency, schema}

func run(ctx context.Context, t Target, r *Report) error {
	if storage.IsRemote(t.URL) {
		r.Remote = true
		return runRemote(ctx, t, r)
	}
	db, err := storage.OpenMode(ctx, t.URL, storage.ReadOnly)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// One read transaction: every check sees the same snapshot while the
	// proxy keeps writing.
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	src := &source{data: conn, schema: seal.SQL(conn, nil), version: -1}
	return runChecks(ctx, src, t, r)
}

func runChecks(ctx context.Context, src *source, t Target, r *Report) error {
	add := func(f Finding) { r.Findings = append(r.Findings, f) }
	for _, c := range checks {
		err := c(ctx, src, t, add)
		var skip *skipError
		if errors.As(err, &skip) {
			r.Skipped = append(r.Skipped, Skip{Check: skip.check, Reason: skip.reason})
			continue
		}
		if err != nil {
			return err
		}
	}
	return src.data.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM transactions)`).Scan(&r.Accounts, &r.Postings)
}

// skipError: the server cannot run a check (not a finding).
type skipError struct{ check, reason string }

func (e *skipError) Error() string { return e.check + " skipped: " + e.reason }

func integrity(ctx context.Context, src *source, _ Target, add func(Finding)) error {
	rows, err := src.data.QueryContext(ctx, fmt.Sprintf(`PRAGMA integrity_check(%d)`, maxPerCheck))
	if err != nil {
		if src.remote && ctx.Err() == nil {
			// Some libSQL servers do not run it (see the README); the
			// next check fails if the server is simply unreachable.
			return &skipError{check: CheckIntegrity, reason: "the server did not run integrity_check: " + err.Error()}
		}
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			return err
		}
		if msg != "ok" {
			add(Finding{Check: CheckIntegrity, Detail: msg})
		}
	}
	return rows.Err()
}

func stamp(ctx context.Context, src *source, t Target, add func(Finding)) error {
	var got int64
	err := src.data.QueryRowContext(ctx, `SELECT tenant_id FROM tenant_stamp WHERE singleton = 1`).Scan(&got)
	switch {
	case err == sql.ErrNoRows:
		add(Finding{Check: CheckStamp, Detail: "database is not stamped"})
	case err != nil && strings.Contains(err.Error(), "no such table"):
		add(Finding{Check: CheckStamp, Detail: "not a tenant database"})
		return fmt.Errorf("not a tenant database")
	case err != nil:
		return fmt.Errorf("read stamp: %w", err)
	case got != t.ID:
		add(Finding{Check: CheckStamp, Detail: fmt.Sprintf("stamped %d, catalog says %d", got, t.ID)})
	}
	return nil
}

// tenantIDs checks every managed table with a tenant_id column.
func tenantIDs(ctx context.Context, src *source, t Target, add func(Finding)) error {
	for name := range migrations.TenantManaged.Tables {
		has, err := src.schema.Query(ctx, `SELECT 1 FROM pragma_table_info('`+name+`') WHERE name = 'tenant_id'`)
		if err != nil {
			return fmt.Errorf("columns of %s: %w", name, err)
		}
		if len(has) == 0 {
			continue
		}
		var n int64
		if err := src.data.QueryRowContext(ctx, `SELECT count(*) FROM "`+name+`" WHERE tenant_id IS NOT ?`, t.ID).Scan(&n); err != nil {
			return fmt.Errorf("tenant ids of %s: %w", name, err)
		}
		if n > 0 {
			add(Finding{Check: CheckTenantID, Table: name, Detail: fmt.Sprintf("%d rows carry another tenant id", n)})
		}
	}
	return nil
}

// balanceQuery sums each account's postings: deposits and incoming
// transfers add, withdrawals and outgoing transfers subtract.
const balanceQuery = `
WITH moves(account, delta) AS (
  SELECT account_id, CASE WHEN type = 'deposit' THEN amount ELSE -amount END FROM transactions
  UNION ALL
  SELECT to_account_id, amount FROM transactions WHERE type = 'transfer'
), sums AS (SELECT account, sum(delta) AS total FROM moves GROUP BY account)
SELECT a.id, a.balance, coalesce(s.total, 0) FROM accounts a LEFT JOIN sums s ON s.account = a.id
WHERE a.balance IS NOT coalesce(s.total, 0)
UNION ALL
SELECT s.account, NULL, s.total FROM sums s WHERE s.account NOT IN (SELECT id FROM accounts)
ORDER BY 1 LIMIT ?`

func balances(ctx context.Context, src *source, _ Target, add func(Finding)) error {
	rows, err := src.data.QueryContext(ctx, balanceQuery, maxPerCheck)
	if err != nil {
		return fmt.Errorf("balances: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, sum int64
		var bal sql.NullInt64
		if err := rows.Scan(&id, &bal, &sum); err != nil {
			return err
		}
		if !bal.Valid {
			add(Finding{Check: CheckBalance, AccountID: id, Detail: fmt.Sprintf("postings of %d to an account that does not exist", sum)})
			continue
		}
		add(Finding{Check: CheckBalance, AccountID: id, Detail: fmt.Sprintf("balance %d, postings sum to %d (off by %d)", bal.Int64, sum, bal.Int64-sum)})
	}
	return rows.Err()
}

// idempotencyQuery finds stored answers that no longer match the posting
// they report.
const idempotencyQuery = `
SELECT k.key, json_extract(k.response, '$.transaction.id'), json_extract(k.response, '$.transaction.account_id'), t.id
FROM idempotency_keys k
LEFT JOIN transactions t ON t.id = json_extract(k.response, '$.transaction.id')
WHERE k.status = 201 AND (t.id IS NULL
   OR t.amount IS NOT json_extract(k.response, '$.transaction.amount')
   OR t.account_id IS NOT json_extract(k.response, '$.transaction.account_id')
   OR t.type IS NOT json_extract(k.response, '$.transaction.type')
   OR t.to_account_id IS NOT json_extract(k.response, '$.transaction.to_account_id'))
LIMIT ?`

func idempotency(ctx context.Context, src *source, _ Target, add func(Finding)) error {
	rows, err := src.data.QueryContext(ctx, idempotencyQuery, maxPerCheck)
	if err != nil {
		return fmt.Errorf("idempotency records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var txID, acct, found sql.NullInt64
		if err := rows.Scan(&key, &txID, &acct, &found); err != nil {
			return err
		}
		detail := fmt.Sprintf("key %q answers transaction %d, which does not match", key, txID.Int64)
		if !found.Valid {
			detail = fmt.Sprintf("key %q answers transaction %d, which does not exist", key, txID.Int64)
		}
		add(Finding{Check: CheckIdempotency, AccountID: acct.Int64, Detail: detail})
	}
	return rows.Err()
}

func schema(ctx context.Context, src *source, _ Target, add func(Finding)) error {
	var found []seal.Finding
	var err error
	if src.version < 0 {
		found, err = seal.Audit(ctx, src.schema)
	} else {
		found, err = seal.AuditAt(ctx, src.schema, src.version)
	}
	if err != nil {
		return err
	}
	for _, f := range found {
		add(Finding{Check: CheckSchema, Table: f.Table, Detail: f.String()})
	}
	return nil
}

package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/audit"
)

// PlatformScope names the platform audit chain (see audit.Entry.Compute).
const PlatformScope = "platform"

const platformAuditColumns = `id, at, user_id, role, token_id, client_addr, request_id, action, target_type, target_id, details, prev_hash, hash`

// Audit appends an event to the platform audit trail (admin API and CLI
// actions) and logs it at info level. Seq, PrevHash, Hash and At are set
// here. Concurrent writers (other proxies, the CLI) race on the next id:
// the loser reads the new head and tries again.
func (c *Catalog) Audit(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	e.At = time.Now().UTC().Format(audit.TimeFormat)
	var err error
	for range 20 {
		var head audit.Entry
		var prev *audit.Entry
		var details string
		err = c.db.QueryRowContext(ctx, `SELECT `+platformAuditColumns+` FROM platform_audit ORDER BY id DESC LIMIT 1`).
			Scan(auditDest(&head, &details)...)
		switch {
		case err == nil:
			if err := head.SetDetailsJSON(details); err != nil {
				return e, fmt.Errorf("platform audit head: %w", err)
			}
			prev = &head
		case classify(err) == ErrTenantNotFound: // no rows: the first entry
		default:
			return e, fmt.Errorf("%w: platform audit: %w", ErrUnavailable, err)
		}
		e.Seal(PlatformScope, prev)
		_, err = c.db.ExecContext(ctx, `INSERT INTO platform_audit (`+platformAuditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.At, e.UserID, e.Role, e.TokenID, e.ClientAddr, e.RequestID, e.Action, e.TargetType, e.TargetID,
			e.DetailsJSON(), e.PrevHash, e.Hash)
		if err == nil {
			LogAudit(c.log, "platform", e)
			return e, nil
		}
		if !isConstraint(err) {
			return e, fmt.Errorf("%w: platform audit: %w", ErrUnavailable, err)
		}
	}
	return e, fmt.Errorf("%w: platform audit: too much contention: %w", ErrUnavailable, err)
}

// LogAudit writes an audit event as one info-level structured log line.
func LogAudit(log *slog.Logger, scope string, e audit.Entry) {
	attrs := []any{"scope", scope, "id", e.Seq, "action", e.Action, "user_id", e.UserID, "role", e.Role,
		"token_id", e.TokenID, "client_addr", e.ClientAddr, "request_id", e.RequestID,
		"target_type", e.TargetType, "target_id", e.TargetID}
	for k, v := range e.Details {
		attrs = append(attrs, "detail."+k, v)
	}
	log.Info("audit", attrs...)
}

func auditDest(e *audit.Entry, details *string) []any {
	return []any{&e.Seq, &e.At, &e.UserID, &e.Role, &e.TokenID, &e.ClientAddr, &e.RequestID, &e.Action,
		&e.TargetType, &e.TargetID, details, &e.PrevHash, &e.Hash}
}

// AuditQuery pages the platform audit trail, newest first.
type AuditQuery struct {
	Limit  int    // 1–200, default 50
	Before int64  // only entries with id < Before (0 = from the newest)
	Action string // exact action, "" = any
}

// AuditEntries returns a page of the platform audit trail, newest first,
// and the cursor of the next page (0 = none).
func (c *Catalog) AuditEntries(ctx context.Context, q AuditQuery) ([]audit.Entry, int64, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	before := q.Before
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+platformAuditColumns+` FROM platform_audit
		WHERE id < ?1 AND (?2 = '' OR action = ?2) ORDER BY id DESC LIMIT ?3`, before, q.Action, q.Limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: read platform audit: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	out := []audit.Entry{}
	for rows.Next() {
		var e audit.Entry
		var details string
		if err := rows.Scan(auditDest(&e, &details)...); err != nil {
			return nil, 0, err
		}
		if err := e.SetDetailsJSON(details); err != nil {
			return nil, 0, fmt.Errorf("platform audit entry %d: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// VerifyAudit walks the whole platform chain in id order.
func (c *Catalog) VerifyAudit(ctx context.Context) (*audit.Verifier, error) {
	v := &audit.Verifier{Scope: PlatformScope}
	rows, err := c.db.QueryContext(ctx, `SELECT `+platformAuditColumns+` FROM platform_audit ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read platform audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e audit.Entry
		var details string
		if err := rows.Scan(auditDest(&e, &details)...); err != nil {
			return nil, err
		}
		if err := e.SetDetailsJSON(details); err != nil {
			v.Findings = append(v.Findings, audit.Finding{Seq: e.Seq, Problem: "details are not valid JSON (edited)"})
		}
		v.Add(e)
	}
	return v, rows.Err()
}

// FormatID renders an id for Entry.TargetID.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// isConstraint: another writer took the id first.
func isConstraint(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLITE_CONSTRAINT")
}

package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/shard/storage"
)

// Actor is who makes a change, as the audit trail records it.
type Actor struct {
	UserID     int64
	Role       string
	TokenID    string
	ClientAddr string
	RequestID  string
}

// Audit actions recorded in a tenant's trail.
const (
	ActionLogin              = "auth.login"
	ActionLoginFailed        = "auth.login_failed"
	ActionLogout             = "auth.logout"
	ActionPasswordChange     = "password.change"
	ActionPasswordResetIssue = "password.reset_issued"
	ActionPasswordReset      = "password.reset"
	ActionUserCreate         = "user.create"
	ActionUserUpdate         = "user.update"
	ActionAccountCreate      = "account.create"
	ActionAccountStatus      = "account.status"
	ActionTOTPEnrol          = "2fa.enrol"
	ActionTOTPEnable         = "2fa.enable"
	ActionTOTPDisable        = "2fa.disable"
	ActionRecoveryCodeUsed   = "2fa.recovery_code_used"
	ActionSettingsUpdate     = "settings.update"
)

// Event is an audit event before it is sealed into the chain.
type Event struct {
	Action     string
	TargetType string
	TargetID   int64 // 0 = none
	Details    map[string]string
}

// Scope is the name of a tenant's audit chain (see audit.Entry.Compute).
func Scope(tenantID int64) string { return "tenant:" + strconv.FormatInt(tenantID, 10) }

const auditColumns = `id, at, user_id, role, token_id, client_addr, request_id, action, target_type, target_id, details, prev_hash, hash`

func auditDest(e *audit.Entry, details *string) []any {
	return []any{&e.Seq, &e.At, &e.UserID, &e.Role, &e.TokenID, &e.ClientAddr, &e.RequestID, &e.Action,
		&e.TargetType, &e.TargetID, details, &e.PrevHash, &e.Hash}
}

// AuditHook is called with every audit entry a store commits (the proxy
// logs them).
type AuditHook func(tenantID int64, e audit.Entry)

// NewAudited is NewPrepared with an audit hook.
func NewAudited(db *sql.DB, tenantID int64, p Preparer, hook AuditHook) *Store {
	return &Store{db: db, tenantID: tenantID, prep: p, onAudit: hook}
}

// appendAudit seals ev after the chain's head and inserts it inside tx (the
// change it records commits with it, or neither does). The caller holds
// the write lock; a concurrent writer from another process makes the
// insert fail, and the whole transaction is retried.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, a Actor, ev Event) (audit.Entry, error) {
	e := audit.Entry{
		At: time.Now().UTC().Format(audit.TimeFormat), UserID: a.UserID, Role: a.Role, TokenID: a.TokenID,
		ClientAddr: a.ClientAddr, RequestID: a.RequestID, Action: ev.Action, TargetType: ev.TargetType, Details: ev.Details,
	}
	if ev.TargetID != 0 {
		e.TargetID = strconv.FormatInt(ev.TargetID, 10)
	}
	var head audit.Entry
	var details string
	var prev *audit.Entry
	err := tx.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE tenant_id = ? ORDER BY id DESC LIMIT 1`, s.tenantID).
		Scan(auditDest(&head, &details)...)
	switch {
	case err == nil:
		if err := head.SetDetailsJSON(details); err != nil {
			return e, fmt.Errorf("audit head: %w", err)
		}
		prev = &head
	case !errors.Is(err, sql.ErrNoRows):
		return e, fmt.Errorf("audit head: %w", classify(err))
	}
	e.Seal(Scope(s.tenantID), prev)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (tenant_id, `+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.tenantID, e.Seq, e.At, e.UserID, e.Role, e.TokenID, e.ClientAddr, e.RequestID, e.Action, e.TargetType, e.TargetID,
		e.DetailsJSON(), e.PrevHash, e.Hash)
	if err != nil {
		if storage.IsUnique(err) {
			return e, fmt.Errorf("%w: audit head moved", ErrBusy)
		}
		return e, fmt.Errorf("append audit: %w", classify(err))
	}
	return e, nil
}

// inTx runs fn in one write transaction (under the write lock, retried on
// SQLITE_BUSY) and hands the committed audit entries to the hook.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx, audit func(Actor, Event) error) error) error {
	var entries []audit.Entry
	err := retryBusy(ctx, func() error {
		entries = entries[:0]
		unlock, err := s.lockWrites(ctx)
		if err != nil {
			return err
		}
		defer unlock()
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", classify(err))
		}
		defer tx.Rollback()
		record := func(a Actor, ev Event) error {
			e, err := s.appendAudit(ctx, tx, a, ev)
			if err == nil {
				entries = append(entries, e)
			}
			return err
		}
		if err := fn(tx, record); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", classify(err))
		}
		return nil
	})
	if err == nil && s.onAudit != nil {
		for _, e := range entries {
			s.onAudit(s.tenantID, e)
		}
	}
	return err
}

// Audit records an event that changes nothing else (a login, a failed
// login, a logout).
func (s *Store) Audit(ctx context.Context, a Actor, ev Event) error {
	return s.inTx(ctx, func(_ *sql.Tx, record func(Actor, Event) error) error { return record(a, ev) })
}

// AuditQuery pages a tenant's audit trail, newest first.
type AuditQuery struct {
	Limit  int    // 0 → DefaultPageSize; capped at MaxPageSize
	Before int64  // only entries with id < Before (0 = from the newest)
	Action string // exact action, "" = any
	UserID int64  // entries by this user, 0 = any
}

// ListAudit returns one page of the trail, newest first, and the cursor of
// the next page (0 = none).
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) ([]audit.Entry, int64, error) {
	limit := clampLimit(q.Limit)
	before := q.Before
	if before <= 0 {
		before = 1 << 62
	}
	rows, err := s.on(nil).QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log
		WHERE tenant_id = ?1 AND id < ?2 AND (?3 = '' OR action = ?3) AND (?4 = 0 OR user_id = ?4)
		ORDER BY id DESC LIMIT ?5`, s.tenantID, before, q.Action, q.UserID, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", classify(err))
	}
	defer rows.Close()
	out := []audit.Entry{}
	for rows.Next() {
		var e audit.Entry
		var details string
		if err := rows.Scan(auditDest(&e, &details)...); err != nil {
			return nil, 0, fmt.Errorf("list audit: %w", err)
		}
		if err := e.SetDetailsJSON(details); err != nil {
			return nil, 0, fmt.Errorf("audit entry %d: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", classify(err))
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// VerifyAudit walks a tenant database's whole audit chain in id order and
// reports every gap, edit or broken link. db is opened by the caller
// (tools open the file directly, behind no proxy).
func VerifyAudit(ctx context.Context, db *sql.DB, tenantID int64) (*audit.Verifier, error) {
	v := &audit.Verifier{Scope: Scope(tenantID)}
	rows, err := db.QueryContext(ctx, `SELECT `+auditColumns+`, tenant_id FROM audit_log ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e audit.Entry
		var details string
		var tenant int64
		if err := rows.Scan(append(auditDest(&e, &details), &tenant)...); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		if tenant != tenantID {
			v.Findings = append(v.Findings, audit.Finding{Seq: e.Seq, Problem: fmt.Sprintf("belongs to tenant %d", tenant)})
		}
		if err := e.SetDetailsJSON(details); err != nil {
			v.Findings = append(v.Findings, audit.Finding{Seq: e.Seq, Problem: "details are not valid JSON (edited)"})
		}
		v.Add(e)
	}
	return v, rows.Err()
}

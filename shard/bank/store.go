// Package bank is the tenant-scoped banking store: users, accounts,
// transactions (postings) and idempotency keys inside one tenant database.
//
// A Store is bound to one tenant id, and every statement it runs carries
// "tenant_id = ?" (or inserts that tenant id), so even if a database held a
// foreign row it would never be read or changed; the database's own triggers
// refuse foreign inserts on top of that. New is the only way to reach
// tenant data.
package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/microfi/tenantgate/shard/storage"
)

// Paging limits shared by every list call.
const (
	// DefaultPageSize is used when a query's Limit is zero or negative.
	DefaultPageSize = 50
	// MaxPageSize caps a query's Limit.
	MaxPageSize = 200
)

// Store is the tenant-scoped view of one tenant database. It is safe for
// concurrent use; it holds no state besides the database and the tenant id.
type Store struct {
	db       *sql.DB
	tenantID int64
	prep     Preparer // nil: statements are not cached
	onAudit  AuditHook
}

// New returns the store for tenant tenantID in db. db must be that tenant's
// own database (the shard manager verifies its stamp).
func New(db *sql.DB, tenantID int64) *Store {
	return &Store{db: db, tenantID: tenantID}
}

// TenantID is the tenant this store is bound to.
func (s *Store) TenantID() int64 { return s.tenantID }

// Sentinel errors. The proxy maps each to one status and message.
var (
	// ErrNotFound: the row does not exist in this tenant, or the caller may
	// not see it (a customer asking for another customer's account).
	ErrNotFound = errors.New("not found")
	// ErrInsufficientFunds: the posting would make a balance negative.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrEmailTaken: a user with this e-mail already exists in the tenant.
	ErrEmailTaken = errors.New("email already registered")
	// ErrInvalidCredentials: unknown e-mail or wrong password (never says which).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrIdempotencyConflict: an Idempotency-Key was reused with a different request.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	// ErrCurrencyMismatch: a transfer between accounts of different currencies.
	ErrCurrencyMismatch = errors.New("currency mismatch")
	// ErrAccountInactive: the account is frozen or closed.
	ErrAccountInactive = errors.New("account inactive")
	// ErrForbidden: the caller's role may not perform this operation on this
	// row (e.g. a customer depositing money).
	ErrForbidden = errors.New("forbidden")
	// ErrUserDisabled: the credentials are right but the user is disabled.
	ErrUserDisabled = errors.New("user disabled")
	// ErrLastAdmin: the change would leave the tenant without an active admin.
	ErrLastAdmin = errors.New("the last active admin cannot be disabled or demoted")
	// ErrWrongPassword: the current password given to a change is wrong.
	ErrWrongPassword = errors.New("current password is wrong")
	// ErrResetInvalid: a password reset token is unknown, used or expired.
	ErrResetInvalid = errors.New("invalid or expired reset token")
	// ErrAccountClosed: a closed account cannot change status.
	ErrAccountClosed = errors.New("account closed")
	// ErrBalanceNotZero: an account with money in it cannot be closed.
	ErrBalanceNotZero = errors.New("account balance is not zero")
	// ErrBusy: the database stayed locked past the busy timeout.
	ErrBusy = errors.New("tenant database busy")
	// ErrRefused: the database's authorizer refused a statement (a foreign
	// trigger or view would have run, or a remote server keeps the table
	// read-only); nothing was written.
	ErrRefused = errors.New("tenant database refused the statement")
)

// ValidationError reports invalid input field by field. Fields maps the
// JSON field name to a human-readable problem.
type ValidationError struct {
	Fields map[string]string
}

// Error lists the fields in a stable order.
func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// validation collects field errors; err returns nil when there are none.
type validation map[string]string

func (v validation) add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

func (v validation) err() error {
	if len(v) == 0 {
		return nil
	}
	return &ValidationError{Fields: map[string]string(v)}
}

// sqliteTime is the format SQLite's CURRENT_TIMESTAMP writes (UTC).
const sqliteTime = "2006-01-02 15:04:05"

// rfc3339Expr renders a stored timestamp as RFC 3339 UTC text in SQL, so
// local and remote (libSQL) backends return the same string.
func rfc3339Expr(col string) string {
	return "strftime('%Y-%m-%dT%H:%M:%SZ', " + col + ")"
}

// clampLimit applies the default and maximum page size.
func clampLimit(n int) int {
	if n <= 0 {
		return DefaultPageSize
	}
	if n > MaxPageSize {
		return MaxPageSize
	}
	return n
}

// classify translates driver errors into the package's sentinels.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if storage.IsBusy(err) || storage.IsFenced(err) {
		// A move's fence (storage.IsFenced) lifts within about a second.
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	if storage.IsAuth(err) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// retryBusy runs fn again (a few times, briefly backing off) when the
// database reported SQLITE_BUSY; fn must be a whole transaction so a retry
// repeats nothing half-done.
func retryBusy(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = fn()
		if err == nil || !errors.Is(err, ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(10*(attempt+1)) * time.Millisecond):
		}
	}
	return err
}

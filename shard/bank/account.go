package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// Account types and statuses.
const (
	AccountSavings = "savings"
	AccountCurrent = "current"

	StatusActive = "active"
	StatusFrozen = "frozen"
	StatusClosed = "closed"
)

// Account is one account of a tenant's user. Balance is in minor units
// (pesewas, cents) of Currency and never negative.
type Account struct {
	ID        int64  `json:"id"`
	TenantID  int64  `json:"tenant_id"`
	UserID    int64  `json:"user_id"`
	Type      string `json:"type"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"` // RFC 3339, UTC
}

// AccountQuery selects accounts, ascending by id.
type AccountQuery struct {
	UserID  int64 // only this user's accounts; 0 = all of the tenant's
	Limit   int   // 0 → DefaultPageSize; capped at MaxPageSize
	AfterID int64 // only accounts with id > AfterID (keyset paging)
}

// NewAccount is the input to CreateAccount.
type NewAccount struct {
	UserID   int64  `json:"user_id"`
	Type     string `json:"type"`
	Currency string `json:"currency"` // the tenant's currency (CurrencyFor), set by the caller
}

var accountColumns = "id, tenant_id, user_id, type, currency, balance, status, " + rfc3339Expr("created_at")

func scanAccount(row interface{ Scan(...any) error }, a *Account) error {
	return row.Scan(&a.ID, &a.TenantID, &a.UserID, &a.Type, &a.Currency, &a.Balance, &a.Status, &a.CreatedAt)
}

// ListAccounts returns one page of the tenant's accounts (or of one user's).
func (s *Store) ListAccounts(ctx context.Context, q AccountQuery) ([]Account, error) {
	return s.ListAccountsInto(ctx, q, nil)
}

// ListAccountsInto is ListAccounts appending to dst[:0] (a caller's pooled
// page; nil: a new one).
func (s *Store) ListAccountsInto(ctx context.Context, q AccountQuery, dst []Account) ([]Account, error) {
	if dst == nil {
		// Room for a typical page up front: no regrowth on the hot path.
		dst = make([]Account, 0, min(clampLimit(q.Limit), 16))
	}
	dst = dst[:0]
	if r, release, ok := s.rawReader(); ok {
		defer release()
		return s.listAccountsRaw(ctx, r, q, dst)
	}
	var (
		rows *sql.Rows
		err  error
	)
	if q.UserID != 0 {
		rows, err = s.on(nil).QueryContext(ctx,
			`SELECT `+accountColumns+` FROM accounts WHERE tenant_id = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`,
			s.tenantID, q.UserID, q.AfterID, clampLimit(q.Limit))
	} else {
		rows, err = s.on(nil).QueryContext(ctx,
			`SELECT `+accountColumns+` FROM accounts WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
			s.tenantID, q.AfterID, clampLimit(q.Limit))
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", classify(err))
	}
	defer rows.Close()
	out := dst
	for rows.Next() {
		var a Account
		if err := scanAccount(rows, &a); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", classify(err))
	}
	return out, nil
}

// listAccountsRaw is ListAccounts on a raw read connection: the same rows,
// with created_at read as stored and rewritten in Go (rfc3339UTC); a value
// in any other form sends the read back to SQLite's strftime (exact).
func (s *Store) listAccountsRaw(ctx context.Context, r rawRunner, q AccountQuery, dst []Account) ([]Account, error) {
	out, err := s.listAccountsRawAs(ctx, r, q, false, dst)
	if errors.Is(err, errNotCanonical) {
		out, err = s.listAccountsRawAs(ctx, r, q, true, dst)
	}
	return out, err
}

func (s *Store) listAccountsRawAs(ctx context.Context, r rawRunner, q AccountQuery, exact bool, dst []Account) ([]Account, error) {
	var (
		rows rawRows
		err  error
	)
	cols := accountColumnsStored
	if exact {
		cols = accountColumns
	}
	if q.UserID != 0 {
		rows, err = r.QueryContext(ctx,
			`SELECT `+cols+` FROM accounts WHERE tenant_id = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`,
			s.tenantID, q.UserID, q.AfterID, int64(clampLimit(q.Limit)))
	} else {
		rows, err = r.QueryContext(ctx,
			`SELECT `+cols+` FROM accounts WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
			s.tenantID, q.AfterID, int64(clampLimit(q.Limit)))
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := dst[:0]
	for {
		ok, err := rows.Next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		if !ok {
			return out, nil
		}
		a, ok := scanAccountRaw(rows, exact)
		if !ok {
			return nil, errNotCanonical
		}
		out = append(out, a)
	}
}

// getAccountRaw is GetAccount on a raw read connection (see
// listAccountsRaw).
func (s *Store) getAccountRaw(ctx context.Context, r rawRunner, id, ownerUserID int64) (Account, error) {
	a, err := s.getAccountRawAs(ctx, r, id, false)
	if errors.Is(err, errNotCanonical) {
		a, err = s.getAccountRawAs(ctx, r, id, true)
	}
	if err == nil && ownerUserID != 0 && a.UserID != ownerUserID {
		return Account{}, ErrNotFound
	}
	return a, err
}

func (s *Store) getAccountRawAs(ctx context.Context, r rawRunner, id int64, exact bool) (Account, error) {
	cols := accountColumnsStored
	if exact {
		cols = accountColumns
	}
	rows, err := r.QueryContext(ctx, `SELECT `+cols+` FROM accounts WHERE tenant_id = ? AND id = ?`, s.tenantID, id)
	if err != nil {
		return Account{}, fmt.Errorf("get account %d: %w", id, err)
	}
	defer rows.Close()
	ok, err := rows.Next()
	switch {
	case err != nil:
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return Account{}, fmt.Errorf("get account %d: %w", id, err)
	case !ok:
		return Account{}, ErrNotFound
	}
	a, ok := scanAccountRaw(rows, exact)
	if !ok {
		return Account{}, errNotCanonical
	}
	return a, nil
}

// accountColumnsStored is accountColumns with created_at as stored.
var accountColumnsStored = "id, tenant_id, user_id, type, currency, balance, status, created_at"

// errNotCanonical: a created_at not in the form rfc3339UTC rewrites.
var errNotCanonical = errors.New("created_at not in canonical form")

// scanAccountRaw reads a row of accountColumns (exact) or
// accountColumnsStored; false: its created_at needs strftime. The few
// distinct values of type, currency and status are shared strings, not
// copies.
func scanAccountRaw(r rawRows, exact bool) (Account, bool) {
	a := Account{
		ID: r.ColumnInt64(0), TenantID: r.ColumnInt64(1), UserID: r.ColumnInt64(2),
		Type: knownText(r.ColumnTextView(3)), Currency: knownText(r.ColumnTextView(4)),
		Balance: r.ColumnInt64(5), Status: knownText(r.ColumnTextView(6)),
	}
	if exact {
		a.CreatedAt = r.ColumnText(7)
		return a, true
	}
	if r.ColumnType(7) != rawsqlite.Text {
		return a, false
	}
	var ok bool
	a.CreatedAt, ok = rfc3339UTC(r.ColumnTextView(7))
	return a, ok
}

// rfc3339UTC rewrites "YYYY-MM-DD HH:MM:SS", the form CURRENT_TIMESTAMP
// stores, as strftime('%Y-%m-%dT%H:%M:%SZ') would: false for anything
// else, including dates SQLite would normalise (February 30th).
func rfc3339UTC(b []byte) (string, bool) {
	if len(b) != 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return "", false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return "", false
	}
	var out [20]byte
	copy(out[:], b)
	out[10], out[19] = 'T', 'Z'
	return string(out[:]), true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// knownText is b as a string, without a copy for the bank's fixed values.
func knownText(b []byte) string {
	switch string(b) {
	case AccountSavings:
		return AccountSavings
	case AccountCurrent:
		return AccountCurrent
	case StatusActive:
		return StatusActive
	case StatusFrozen:
		return StatusFrozen
	case StatusClosed:
		return StatusClosed
	}
	if c, ok := currencyNames[string(b)]; ok {
		return c
	}
	return string(b)
}

// GetAccount returns one account. ownerUserID != 0 restricts it to that
// user's accounts (customers): another user's account is ErrNotFound, never
// a hint that it exists.
func (s *Store) GetAccount(ctx context.Context, id, ownerUserID int64) (Account, error) {
	if r, release, ok := s.rawReader(); ok {
		defer release()
		return s.getAccountRaw(ctx, r, id, ownerUserID)
	}
	var a Account
	err := scanAccount(s.on(nil).QueryRowContext(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE tenant_id = ? AND id = ?`, s.tenantID, id), &a)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("get account %d: %w", id, classify(err))
	}
	if ownerUserID != 0 && a.UserID != ownerUserID {
		return Account{}, ErrNotFound
	}
	return a, nil
}

// CreateAccount opens an account with a zero balance for one of the
// tenant's users. Unknown user, type or currency → ValidationError.
func (s *Store) CreateAccount(ctx context.Context, na NewAccount) (Account, error) {
	return s.CreateAccountAs(ctx, Actor{Role: "system"}, na)
}

// CreateAccountAs is CreateAccount recorded in the audit trail as done by a.
func (s *Store) CreateAccountAs(ctx context.Context, a Actor, na NewAccount) (Account, error) {
	v := validation{}
	if na.UserID <= 0 {
		v.add("user_id", "is required")
	}
	switch na.Type {
	case AccountSavings, AccountCurrent:
	case "":
		v.add("type", "is required")
	default:
		v.add("type", "must be savings or current")
	}
	if !validCurrency(na.Currency) {
		v.add("currency", "must be a three-letter ISO 4217 code")
	}
	if err := v.err(); err != nil {
		return Account{}, err
	}
	var acct Account
	err := s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		// The user check and insert are one statement, so a user cannot be
		// from another tenant or missing.
		row := tx.QueryRowContext(ctx,
			`INSERT INTO accounts (tenant_id, user_id, type, currency)
			 SELECT ?, id, ?, ? FROM users WHERE tenant_id = ? AND id = ?
			 RETURNING `+accountColumns, s.tenantID, na.Type, na.Currency, s.tenantID, na.UserID)
		if err := classify(scanAccount(row, &acct)); err != nil {
			return err
		}
		return record(a, Event{Action: ActionAccountCreate, TargetType: "account", TargetID: acct.ID,
			Details: map[string]string{"user_id": fmt.Sprint(acct.UserID), "type": acct.Type}})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, &ValidationError{Fields: map[string]string{"user_id": "no such user"}}
	}
	if err != nil {
		return Account{}, fmt.Errorf("create account: %w", err)
	}
	return acct, nil
}

// SetAccountStatus changes an account's status: active ⇄ frozen, and
// either to closed, which is final (ErrAccountClosed afterwards) and needs
// a zero balance (ErrBalanceNotZero).
func (s *Store) SetAccountStatus(ctx context.Context, a Actor, id int64, status string) (Account, error) {
	switch status {
	case StatusActive, StatusFrozen, StatusClosed:
	default:
		return Account{}, &ValidationError{Fields: map[string]string{"status": "must be active, frozen or closed"}}
	}
	var acct Account
	err := s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE tenant_id = ? AND id = ?`, s.tenantID, id), &acct)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read account %d: %w", id, classify(err))
		}
		switch {
		case acct.Status == status:
			return nil
		case acct.Status == StatusClosed:
			return ErrAccountClosed
		case status == StatusClosed && acct.Balance != 0:
			return ErrBalanceNotZero
		}
		old := acct.Status
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET status = ? WHERE tenant_id = ? AND id = ?`, status, s.tenantID, id); err != nil {
			return fmt.Errorf("update account %d: %w", id, classify(err))
		}
		acct.Status = status
		return record(a, Event{Action: ActionAccountStatus, TargetType: "account", TargetID: id,
			Details: map[string]string{"status": old + " → " + status}})
	})
	if err != nil {
		return Account{}, err
	}
	return acct, nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

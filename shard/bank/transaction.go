package bank

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
)

// Transaction types.
const (
	TypeDeposit    = "deposit"
	TypeWithdrawal = "withdrawal"
	TypeTransfer   = "transfer"
)

// Transaction is one posting. A deposit credits AccountID, a withdrawal
// debits it, and a transfer debits AccountID and credits ToAccountID in the
// same row. Amount is positive, in minor units of Currency.
type Transaction struct {
	ID          int64  `json:"id"`
	TenantID    int64  `json:"tenant_id"`
	UserID      *int64 `json:"user_id"` // who posted it; null for system postings
	AccountID   int64  `json:"account_id"`
	ToAccountID *int64 `json:"to_account_id,omitempty"`
	Type        string `json:"type"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"` // RFC 3339, UTC
}

// TransactionQuery selects transactions newest first.
type TransactionQuery struct {
	// AccountID: only postings touching this account (either side of a
	// transfer); 0 = all.
	AccountID int64
	// OwnerUserID != 0 (customers): only postings touching that user's
	// accounts; an AccountID of another user's account is ErrNotFound.
	OwnerUserID int64
	Limit       int    // 0 → DefaultPageSize; capped at MaxPageSize
	Cursor      string // NextCursor of the previous page; "" = first page
}

// TransactionPage is one page of a listing. NextCursor is "" on the last page.
type TransactionPage struct {
	Transactions []Transaction `json:"transactions"`
	NextCursor   string        `json:"next_cursor"`
}

// txColumns are unqualified so they also serve INSERT … RETURNING.
var txColumns = "id, tenant_id, user_id, account_id, to_account_id, type, amount, currency, description, " +
	rfc3339Expr("created_at")

func scanTransaction(row interface{ Scan(...any) error }, t *Transaction) error {
	var user, to sql.NullInt64
	if err := row.Scan(&t.ID, &t.TenantID, &user, &t.AccountID, &to, &t.Type, &t.Amount, &t.Currency, &t.Description, &t.CreatedAt); err != nil {
		return err
	}
	t.UserID, t.ToAccountID = nil, nil
	if user.Valid {
		t.UserID = &user.Int64
	}
	if to.Valid {
		t.ToAccountID = &to.Int64
	}
	return nil
}

// Cursors are opaque to clients: "c" + the last id seen, base64url. Ids only
// grow, so a cursor stays valid and stable while new postings arrive.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'c' {
		return 0, &ValidationError{Fields: map[string]string{"cursor": "is not a valid cursor"}}
	}
	id, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || id <= 0 {
		return 0, &ValidationError{Fields: map[string]string{"cursor": "is not a valid cursor"}}
	}
	return id, nil
}

// ListTransactions returns one page of postings, newest first.
func (s *Store) ListTransactions(ctx context.Context, q TransactionQuery) (TransactionPage, error) {
	before := int64(1<<63 - 1)
	if q.Cursor != "" {
		id, err := decodeCursor(q.Cursor)
		if err != nil {
			return TransactionPage{}, err
		}
		before = id
	}
	if q.AccountID != 0 {
		if _, err := s.GetAccount(ctx, q.AccountID, q.OwnerUserID); err != nil {
			return TransactionPage{}, err
		}
	}
	limit := clampLimit(q.Limit)
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case q.AccountID != 0:
		rows, err = s.on(nil).QueryContext(ctx,
			`SELECT `+txColumns+` FROM transactions t
			 WHERE t.tenant_id = ? AND t.id < ? AND (t.account_id = ? OR t.to_account_id = ?)
			 ORDER BY t.id DESC LIMIT ?`,
			s.tenantID, before, q.AccountID, q.AccountID, limit+1)
	case q.OwnerUserID != 0:
		rows, err = s.on(nil).QueryContext(ctx,
			`SELECT `+txColumns+` FROM transactions t
			 WHERE t.tenant_id = ? AND t.id < ? AND (
			   t.account_id IN (SELECT id FROM accounts WHERE tenant_id = ? AND user_id = ?) OR
			   t.to_account_id IN (SELECT id FROM accounts WHERE tenant_id = ? AND user_id = ?))
			 ORDER BY t.id DESC LIMIT ?`,
			s.tenantID, before, s.tenantID, q.OwnerUserID, s.tenantID, q.OwnerUserID, limit+1)
	default:
		rows, err = s.on(nil).QueryContext(ctx,
			`SELECT `+txColumns+` FROM transactions t WHERE t.tenant_id = ? AND t.id < ? ORDER BY t.id DESC LIMIT ?`,
			s.tenantID, before, limit+1)
	}
	if err != nil {
		return TransactionPage{}, fmt.Errorf("list transactions: %w", classify(err))
	}
	defer rows.Close()
	page := TransactionPage{Transactions: []Transaction{}}
	for rows.Next() {
		var t Transaction
		if err := scanTransaction(rows, &t); err != nil {
			return TransactionPage{}, fmt.Errorf("list transactions: %w", err)
		}
		page.Transactions = append(page.Transactions, t)
	}
	if err := rows.Err(); err != nil {
		return TransactionPage{}, fmt.Errorf("list transactions: %w", classify(err))
	}
	if len(page.Transactions) > limit {
		page.Transactions = page.Transactions[:limit]
		page.NextCursor = encodeCursor(page.Transactions[limit-1].ID)
	}
	return page, nil
}

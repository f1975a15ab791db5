package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/microfi/tenantgate/shard/storage"
)

// Posting limits, in minor units.
const (
	// MaxAmount is the largest single posting (10^12 minor units: ten
	// billion cedis or dollars).
	MaxAmount = 1_000_000_000_000
	// MaxBalance is the largest balance an account may hold; a credit past
	// it is refused, so sums can never overflow int64.
	MaxBalance = 1_000_000_000_000_000
	// MaxDescriptionLen is the longest description, in characters.
	MaxDescriptionLen = 500
)

// Posting is a request to move money.
type Posting struct {
	Type        string `json:"type"` // deposit | withdrawal | transfer
	AccountID   int64  `json:"account_id"`
	ToAccountID int64  `json:"to_account_id,omitempty"` // transfers only
	Amount      int64  `json:"amount"`                  // minor units, 1..MaxAmount
	Description string `json:"description,omitempty"`
}

// PostOptions say who is posting and how retries are recognised.
type PostOptions struct {
	// ActorUserID is recorded as the transaction's user_id (0 = none, e.g. a
	// service token; an id that is not a user of the tenant is recorded as
	// none too).
	ActorUserID int64
	// OwnerUserID != 0 (customers) allows money to leave only that user's
	// accounts: another user's source account is ErrNotFound, and deposits
	// are ErrForbidden. Transfers may credit any account of the tenant.
	OwnerUserID int64
	// IdempotencyKey, when set, makes a repeat of the same posting return
	// the first result instead of posting again (see Post).
	IdempotencyKey string
}

// PostingResult is what a posting returns (and what an idempotent retry
// replays): the transaction and the new balance of its AccountID.
type PostingResult struct {
	Transaction Transaction `json:"transaction"`
	Balance     int64       `json:"balance"`
	// Replayed is true when this is the stored result of an earlier request
	// with the same Idempotency-Key.
	Replayed bool `json:"-"`
}

func validatePosting(p *Posting) error {
	v := validation{}
	switch p.Type {
	case TypeDeposit, TypeWithdrawal, TypeTransfer:
	case "":
		v.add("type", "is required")
	default:
		v.add("type", "must be deposit, withdrawal or transfer")
	}
	if p.AccountID <= 0 {
		v.add("account_id", "must be a positive account id")
	}
	if p.Type == TypeTransfer {
		if p.ToAccountID <= 0 {
			v.add("to_account_id", "is required for a transfer")
		} else if p.ToAccountID == p.AccountID {
			v.add("to_account_id", "must differ from account_id")
		}
	} else if p.ToAccountID != 0 {
		v.add("to_account_id", "is only allowed for a transfer")
	}
	if p.Amount <= 0 {
		v.add("amount", "must be a positive integer in minor units")
	} else if p.Amount > MaxAmount {
		v.add("amount", fmt.Sprintf("must be at most %d", int64(MaxAmount)))
	}
	if utf8.RuneCountInString(p.Description) > MaxDescriptionLen {
		v.add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLen))
	} else if !utf8.ValidString(p.Description) {
		v.add("description", "must be valid UTF-8")
	} else if !displaySafe(p.Description) {
		v.add("description", "must not contain control or bidirectional-override characters")
	}
	return v.err()
}

// Post validates and applies one posting in a single database transaction:
// the transaction row, the balance change(s) and (with a key) the
// idempotency record are written together or not at all.
//
// Errors: ValidationError; ErrNotFound (unknown account, or a customer's
// foreign source account); ErrForbidden (customer deposit);
// ErrAccountInactive; ErrCurrencyMismatch; ErrInsufficientFunds (nothing
// written); ErrIdempotencyConflict (key reused with a different posting or
// by a different caller); ErrBusy.
//
// With an IdempotencyKey, the key is checked and recorded inside the same
// write transaction, so concurrent retries serialise and exactly one posts;
// the others replay its result. Failed postings are not recorded, so a
// retry after "insufficient funds" is evaluated afresh.
func (s *Store) Post(ctx context.Context, p Posting, opt PostOptions) (PostingResult, error) {
	if err := validatePosting(&p); err != nil {
		return PostingResult{}, err
	}
	if opt.OwnerUserID != 0 && p.Type == TypeDeposit {
		return PostingResult{}, ErrForbidden
	}
	var hash string
	if opt.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(opt.IdempotencyKey); err != nil {
			return PostingResult{}, err
		}
		hash = postingHash(p, opt)
	}
	var res PostingResult
	err := retryBusy(ctx, func() error {
		var err error
		res, err = s.post(ctx, p, opt, hash)
		return err
	})
	if err == nil && opt.IdempotencyKey != "" && !res.Replayed {
		s.maybePurge(ctx)
	}
	if err != nil && opt.IdempotencyKey != "" && storage.IsUnique(err) {
		// A concurrent request with the same key committed first (possible
		// only where transactions do not take the write lock up front).
		return s.replay(ctx, s.on(nil), opt.IdempotencyKey, hash)
	}
	return res, err
}

func (s *Store) post(ctx context.Context, p Posting, opt PostOptions, hash string) (PostingResult, error) {
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return PostingResult{}, err
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return PostingResult{}, fmt.Errorf("begin posting: %w", classify(err))
	}
	defer tx.Rollback()
	run := s.on(tx)

	if opt.IdempotencyKey != "" {
		res, err := s.replay(ctx, run, opt.IdempotencyKey, hash)
		if err == nil || !errors.Is(err, errNoKey) {
			return res, err
		}
	}

	src, err := lockAccount(ctx, run, s.tenantID, p.AccountID)
	if err != nil {
		return PostingResult{}, err
	}
	if opt.OwnerUserID != 0 && src.UserID != opt.OwnerUserID {
		return PostingResult{}, ErrNotFound
	}
	if src.Status != StatusActive {
		return PostingResult{}, ErrAccountInactive
	}
	var balance int64
	switch {
	case p.Type == TypeTransfer && opt.OwnerUserID != 0:
		// A customer cannot see other accounts: debit first, so a short
		// balance answers the same whatever the target, then refuse every
		// unusable target (missing, frozen, closed, another currency) with
		// the one answer a missing account gets. Only a completed transfer
		// tells the customer anything about the target.
		if balance, err = debit(ctx, run, s.tenantID, p.AccountID, p.Amount); err != nil {
			return PostingResult{}, err
		}
		var dst lockedAccount
		dst, err = lockAccount(ctx, run, s.tenantID, p.ToAccountID)
		if err != nil || dst.Status != StatusActive || dst.Currency != src.Currency {
			if err != nil && !errors.Is(err, ErrNotFound) {
				return PostingResult{}, err
			}
			return PostingResult{}, ErrNotFound
		}
		if _, err = credit(ctx, run, s.tenantID, p.ToAccountID, p.Amount); err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) { // the target's balance is at the maximum
				return PostingResult{}, ErrNotFound
			}
			return PostingResult{}, err
		}
	case p.Type == TypeTransfer:
		var dst lockedAccount
		dst, err = lockAccount(ctx, run, s.tenantID, p.ToAccountID)
		if err != nil {
			return PostingResult{}, err
		}
		if dst.Status != StatusActive {
			return PostingResult{}, ErrAccountInactive
		}
		if dst.Currency != src.Currency {
			return PostingResult{}, ErrCurrencyMismatch
		}
		balance, err = debit(ctx, run, s.tenantID, p.AccountID, p.Amount)
		if err == nil {
			_, err = credit(ctx, run, s.tenantID, p.ToAccountID, p.Amount)
		}
	case p.Type == TypeDeposit:
		balance, err = credit(ctx, run, s.tenantID, p.AccountID, p.Amount)
	default:
		balance, err = debit(ctx, run, s.tenantID, p.AccountID, p.Amount)
	}
	if err != nil {
		return PostingResult{}, err
	}

	var to any
	if p.Type == TypeTransfer {
		to = p.ToAccountID
	}
	// The actor is recorded only if it is one of the tenant's users: a
	// valid token for a deleted (or never stored) user id must not fail the
	// foreign key with a 500; such postings are recorded like service ones.
	var t Transaction
	err = scanTransaction(run.QueryRowContext(ctx,
		`INSERT INTO transactions (tenant_id, user_id, account_id, to_account_id, type, amount, currency, description)
		 VALUES (?, (SELECT id FROM users WHERE tenant_id = ? AND id = ?), ?, ?, ?, ?, ?, ?) RETURNING `+txColumns,
		s.tenantID, s.tenantID, opt.ActorUserID, p.AccountID, to, p.Type, p.Amount, src.Currency, p.Description), &t)
	if err != nil {
		return PostingResult{}, fmt.Errorf("insert transaction: %w", classify(err))
	}
	res := PostingResult{Transaction: t, Balance: balance}
	if opt.IdempotencyKey != "" {
		if err := s.remember(ctx, tx, opt.IdempotencyKey, hash, res); err != nil {
			return PostingResult{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return PostingResult{}, fmt.Errorf("commit posting: %w", classify(err))
	}
	return res, nil
}

type lockedAccount struct {
	UserID   int64
	Currency string
	Status   string
}

// lockAccount reads an account inside the posting's write transaction.
func lockAccount(ctx context.Context, q queryer, tenantID, id int64) (lockedAccount, error) {
	var a lockedAccount
	err := q.QueryRowContext(ctx,
		`SELECT user_id, currency, status FROM accounts WHERE tenant_id = ? AND id = ?`, tenantID, id).
		Scan(&a.UserID, &a.Currency, &a.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("read account %d: %w", id, classify(err))
	}
	return a, nil
}

// debit subtracts amount only if the balance covers it; the condition is in
// the UPDATE itself, so it holds even without an up-front write lock.
func debit(ctx context.Context, q queryer, tenantID, id, amount int64) (int64, error) {
	var bal int64
	err := q.QueryRowContext(ctx,
		`UPDATE accounts SET balance = balance - ? WHERE tenant_id = ? AND id = ? AND balance >= ? RETURNING balance`,
		amount, tenantID, id, amount).Scan(&bal)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrInsufficientFunds
	}
	if err != nil {
		return 0, fmt.Errorf("debit account %d: %w", id, classify(err))
	}
	return bal, nil
}

// credit adds amount unless the balance would pass MaxBalance.
func credit(ctx context.Context, q queryer, tenantID, id, amount int64) (int64, error) {
	var bal int64
	err := q.QueryRowContext(ctx,
		`UPDATE accounts SET balance = balance + ? WHERE tenant_id = ? AND id = ? AND balance <= ? RETURNING balance`,
		amount, tenantID, id, MaxBalance-amount).Scan(&bal)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &ValidationError{Fields: map[string]string{"amount": "would take the balance past the maximum"}}
	}
	if err != nil {
		return 0, fmt.Errorf("credit account %d: %w", id, classify(err))
	}
	return bal, nil
}

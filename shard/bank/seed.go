package bank

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/microfi/tenantgate/shard/storage"
)

// Bulk seeding: the platform's path for filling a tenant with many users and
// funded accounts at once (load tests, migrations from other systems). It
// writes only through the ledger's own rules: every opening balance is a
// deposit posting, so balances always equal the sum of their postings.

// Limits of one Seed call.
const (
	MaxSeedUsers           = 200 // fits the API's 64 KiB body
	MaxSeedAccountsPerUser = 10
)

// SeedUser is one user to create, with the accounts to open for them. The
// password arrives already hashed (argon2id in PHC form, or bcrypt), so a
// caller seeding thousands of tenants pays for one hash, not one per user;
// a weak hash is upgraded on the user's first login.
type SeedUser struct {
	Email        string        `json:"email"`
	Name         string        `json:"name"`
	Role         string        `json:"role"`
	PasswordHash string        `json:"password_hash"`
	Accounts     []SeedAccount `json:"accounts"`
}

// SeedAccount is an account to open; a positive OpeningBalance is posted as
// a deposit.
type SeedAccount struct {
	Type           string `json:"type"`
	OpeningBalance int64  `json:"opening_balance"`
}

// SeededUser reports what Seed created for one SeedUser.
type SeededUser struct {
	ID       int64   `json:"id"`
	Email    string  `json:"email"`
	Accounts []int64 `json:"accounts"`
}

func validateSeed(users []SeedUser) error {
	v := validation{}
	if len(users) == 0 {
		v.add("users", "is required")
	} else if len(users) > MaxSeedUsers {
		v.add("users", fmt.Sprintf("must be at most %d", MaxSeedUsers))
	}
	emails := map[string]bool{}
	for i := range users {
		u := &users[i]
		nu := NewUser{Email: u.Email, Name: u.Name, Role: u.Role}
		uv := validation{}
		validateIdentity(uv, &nu)
		u.Email, u.Name, u.Role = nu.Email, nu.Name, nu.Role
		if !validHash(u.PasswordHash) {
			uv.add("password_hash", "must be an argon2id or bcrypt hash")
		}
		if emails[u.Email] {
			uv.add("email", "is given twice")
		}
		emails[u.Email] = true
		if len(u.Accounts) > MaxSeedAccountsPerUser {
			uv.add("accounts", fmt.Sprintf("must be at most %d per user", MaxSeedAccountsPerUser))
		}
		for _, a := range u.Accounts {
			if a.Type != AccountSavings && a.Type != AccountCurrent {
				uv.add("accounts", "type must be savings or current")
			}
			if a.OpeningBalance < 0 || a.OpeningBalance > MaxAmount {
				uv.add("accounts", fmt.Sprintf("opening_balance must be between 0 and %d", int64(MaxAmount)))
			}
		}
		for f, msg := range uv {
			v.add(fmt.Sprintf("users[%d].%s", i, f), msg)
		}
	}
	return v.err()
}

func validHash(h string) bool {
	if strings.HasPrefix(h, "$2") {
		_, err := bcrypt.Cost([]byte(h))
		return err == nil
	}
	_, _, _, err := parseArgon2(h)
	return err == nil
}

// Seed creates users and their accounts in one transaction, each opening
// balance as a deposit posting in currency. An e-mail already used in the
// tenant → ErrEmailTaken, and nothing is written.
func (s *Store) Seed(ctx context.Context, currency string, users []SeedUser) ([]SeededUser, error) {
	if err := validateSeed(users); err != nil {
		return nil, err
	}
	if !validCurrency(currency) {
		return nil, &ValidationError{Fields: map[string]string{"currency": "must be a three-letter ISO 4217 code"}}
	}
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []SeededUser
	err = retryBusy(ctx, func() error {
		out, err = s.seedTx(ctx, currency, users)
		return err
	})
	if err != nil {
		if storage.IsUnique(err) {
			return nil, ErrEmailTaken
		}
		return nil, fmt.Errorf("seed tenant %d: %w", s.tenantID, err)
	}
	return out, nil
}

func (s *Store) seedTx(ctx context.Context, currency string, users []SeedUser) ([]SeededUser, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, classify(err)
	}
	defer tx.Rollback()
	out := make([]SeededUser, len(users))
	for i, u := range users {
		var uid int64
		err := tx.QueryRowContext(ctx,
			`INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			s.tenantID, u.Email, u.Name, u.PasswordHash, u.Role).Scan(&uid)
		if err != nil {
			return nil, classify(err)
		}
		out[i] = SeededUser{ID: uid, Email: u.Email, Accounts: make([]int64, 0, len(u.Accounts))}
		for _, a := range u.Accounts {
			var aid int64
			err := tx.QueryRowContext(ctx,
				`INSERT INTO accounts (tenant_id, user_id, type, currency) VALUES (?, ?, ?, ?) RETURNING id`,
				s.tenantID, uid, a.Type, currency).Scan(&aid)
			if err != nil {
				return nil, classify(err)
			}
			out[i].Accounts = append(out[i].Accounts, aid)
			if a.OpeningBalance == 0 {
				continue
			}
			if _, err := credit(ctx, tx, s.tenantID, aid, a.OpeningBalance); err != nil {
				return nil, err
			}
			_, err = tx.ExecContext(ctx,
				`INSERT INTO transactions (tenant_id, account_id, type, amount, currency, description) VALUES (?, ?, 'deposit', ?, ?, 'opening balance')`,
				s.tenantID, aid, a.OpeningBalance, currency)
			if err != nil {
				return nil, classify(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microfi/tenantgate/shard/storage"
)

// User roles stored in a tenant database. (Tokens also know "service" and
// "platform_admin", which are never users.)
const (
	RoleCustomer = "customer"
	RoleStaff    = "staff"
	RoleAdmin    = "admin"
)

// User is a tenant's user as the API shows it; the password hash never
// leaves the package.
type User struct {
	ID        int64  `json:"id"`
	TenantID  int64  `json:"tenant_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Status    string `json:"status"`     // active or disabled
	TOTP      bool   `json:"two_factor"` // a confirmed second factor
	CreatedAt string `json:"created_at"` // RFC 3339, UTC
}

// User statuses.
const (
	UserActive   = "active"
	UserDisabled = "disabled"
)

// NewUser is the input to CreateUser. Password is plain text; it is hashed
// before it is stored.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// UserQuery pages through users by ascending id.
type UserQuery struct {
	Limit   int   // 0 → DefaultPageSize; capped at MaxPageSize
	AfterID int64 // only users with id > AfterID
}

var userColumns = "id, tenant_id, email, name, role, status, " +
	"EXISTS (SELECT 1 FROM user_totp t WHERE t.tenant_id = users.tenant_id AND t.user_id = users.id AND t.confirmed = 1), " +
	rfc3339Expr("created_at")

func scanUser(row interface{ Scan(...any) error }, u *User) error {
	return row.Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.Role, &u.Status, &u.TOTP, &u.CreatedAt)
}

// NormalizeEmail trims and lower-cases an e-mail address, the form it is
// stored and looked up in.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

func validateNewUser(nu *NewUser) error {
	v := validation{}
	validateIdentity(v, nu)
	if msg := PasswordProblem(nu.Password, nu.Email); msg != "" {
		v.add("password", msg)
	}
	return v.err()
}

// validateIdentity normalises and checks a new user's e-mail, name and role.
func validateIdentity(v validation, nu *NewUser) {
	nu.Email = NormalizeEmail(nu.Email)
	nu.Name = strings.TrimSpace(nu.Name)
	if nu.Role == "" {
		nu.Role = RoleCustomer
	}
	if nu.Email == "" {
		v.add("email", "is required")
	} else if len(nu.Email) > 254 {
		v.add("email", "must be at most 254 characters")
	} else if a, err := mail.ParseAddress(nu.Email); err != nil || a.Address != nu.Email || !strings.Contains(nu.Email[strings.LastIndexByte(nu.Email, '@')+1:], ".") {
		v.add("email", "must be a valid e-mail address")
	}
	if nu.Name == "" {
		v.add("name", "is required")
	} else if utf8.RuneCountInString(nu.Name) > 100 {
		v.add("name", "must be at most 100 characters")
	} else if !displaySafe(nu.Name) {
		v.add("name", "must not contain control or bidirectional-override characters")
	}
	switch nu.Role {
	case RoleCustomer, RoleStaff, RoleAdmin:
	default:
		v.add("role", "must be one of customer, staff, admin")
	}
}

// CreateUser validates nu (ValidationError), hashes the password and stores
// the user. An e-mail already used in this tenant → ErrEmailTaken. The
// audit trail records it as done by the platform ("system"); handlers
// acting for a person use CreateUserAs.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	return s.CreateUserAs(ctx, Actor{Role: "system"}, nu)
}

// CreateUserAs is CreateUser recorded in the audit trail as done by a.
func (s *Store) CreateUserAs(ctx context.Context, a Actor, nu NewUser) (User, error) {
	if err := validateNewUser(&nu); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(ctx, nu.Password)
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	var u User
	err = s.inTx(ctx, func(tx *sql.Tx, record func(Actor, Event) error) error {
		row := tx.QueryRowContext(ctx,
			`INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES (?, ?, ?, ?, ?)
			 RETURNING `+userColumns, s.tenantID, nu.Email, nu.Name, hash, nu.Role)
		if err := classify(scanUser(row, &u)); err != nil {
			if storage.IsUnique(err) {
				return ErrEmailTaken
			}
			return fmt.Errorf("create user: %w", err)
		}
		return record(a, Event{Action: ActionUserCreate, TargetType: "user", TargetID: u.ID, Details: map[string]string{"role": u.Role}})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// GetUser returns one user of the tenant, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id int64) (User, error) {
	var u User
	err := scanUser(s.on(nil).QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND id = ?`, s.tenantID, id), &u)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, classify(err))
	}
	return u, nil
}

// ListUsers pages through the tenant's users in id order.
func (s *Store) ListUsers(ctx context.Context, q UserQuery) ([]User, error) {
	rows, err := s.on(nil).QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		s.tenantID, q.AfterID, clampLimit(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("list users: %w", classify(err))
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var u User
		if err := scanUser(rows, &u); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", classify(err))
	}
	return out, nil
}

// Authenticate checks an e-mail and password against the tenant's users.
// An unknown e-mail and a wrong password both return ErrInvalidCredentials
// after the same amount of hashing work.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	email = NormalizeEmail(email)
	var u User
	var hash string
	err := s.on(nil).QueryRowContext(ctx,
		`SELECT `+userColumns+`, password_hash FROM users WHERE tenant_id = ? AND email = ?`,
		s.tenantID, email).Scan(&u.ID, &u.TenantID, &u.Email, &u.Name, &u.Role, &u.Status, &u.TOTP, &u.CreatedAt, &hash)
	found := true
	if errors.Is(err, sql.ErrNoRows) {
		found, hash = false, dummyHash()
	} else if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", classify(err))
	}
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen] // bound the work; such a password was never stored
		found = false
	}
	ok, weak, err := verifyPassword(ctx, hash, password)
	if err != nil && !errors.Is(err, errBadHash) {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if weak {
		// A cheap (demo or legacy bcrypt) hash: pay the full cost anyway, so
		// timing does not tell these users apart — by upgrading the hash on
		// success, or by verifying the dummy on failure.
		if found && ok {
			s.upgradeHash(ctx, u.ID, hash, password)
		} else {
			verifyPassword(ctx, dummyHash(), password)
		}
	}
	if !found || !ok {
		return User{}, ErrInvalidCredentials
	}
	if u.Status != UserActive {
		return u, ErrUserDisabled
	}
	return u, nil
}

// upgradeHash rehashes a correct password with DefaultPasswordParams. It is
// best effort: the login has succeeded either way, so failures are logged.
func (s *Store) upgradeHash(ctx context.Context, userID int64, oldHash, password string) {
	newHash, err := HashPassword(ctx, password)
	if err == nil {
		_, err = s.on(nil).ExecContext(ctx,
			`UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ? AND password_hash = ?`,
			newHash, s.tenantID, userID, oldHash)
	}
	if err != nil {
		slog.WarnContext(ctx, "upgrade password hash", "tenant_id", s.tenantID, "user_id", userID, "err", err)
	}
}

// displaySafe reports whether s has no control or bidirectional-control
// characters (a name shown to staff must render as what it is).
func displaySafe(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

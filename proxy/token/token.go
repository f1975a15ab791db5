// Package token signs and verifies the HS256 tokens tenantgate accepts:
// the claims, the roles, the verified-token cache and the strict claim
// checks. It knows nothing of HTTP.
package token

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Leeway absorbs clock skew between the token's issuer and this proxy.
const Leeway = 5 * time.Second

// Roles a token may carry.
const (
	RoleCustomer      = "customer"
	RoleStaff         = "staff"
	RoleAdmin         = "admin"
	RoleService       = "service"
	RolePlatformAdmin = "platform_admin"
	// RoleShard is the credential of a front proxy that uses this
	// tenantgate as a shard: no tenant, SQL over HTTP on every tenant host
	// with the bank's rights, and the admin API's tenant endpoints.
	RoleShard = "shard"
)

// Authentication failures, mapped to the contract's messages by proxy (error.go).
var (
	ErrAuthRequired   = errors.New("authentication required")
	ErrInvalidToken   = errors.New("invalid token")
	ErrTokenExpired   = fmt.Errorf("%w: expired", ErrInvalidToken)
	ErrTokenRevoked   = fmt.Errorf("%w: revoked", ErrInvalidToken)
	ErrTenantMismatch = errors.New("tenant mismatch")
	ErrForbidden      = errors.New("forbidden")
)

// Claims are a verified token's claims.
type Claims struct {
	TenantID *JSONInt `json:"tenant_id,omitempty"`
	UserID   *JSONInt `json:"user_id,omitempty"`
	Role     string   `json:"role"`
	// Access "ro" marks a read-only token (as sqld's "a":"ro"): SQL over
	// Hrana gets a read-only connection.
	Access string `json:"a,omitempty"`
	// Scope "2fa_enrol" limits a token to enrolling a second factor (a
	// staff login on a tenant that requires one, before it has one).
	Scope string `json:"scope,omitempty"`
	jwt.RegisteredClaims
}

// ScopeEnrol is the Scope of a token that may only enrol a second factor.
const ScopeEnrol = "2fa_enrol"

// IssuedAtUnix is the token's issue time in unix seconds (0 when absent,
// which every revocation covers).
func (c *Claims) IssuedAtUnix() int64 {
	if c.IssuedAt == nil {
		return 0
	}
	return c.IssuedAt.Unix()
}

// Tenant is the token's tenant id (0 when absent).
func (c *Claims) Tenant() int64 {
	if c.TenantID == nil {
		return 0
	}
	return int64(*c.TenantID)
}

// User is the token's user id (0 when absent).
func (c *Claims) User() int64 {
	if c.UserID == nil {
		return 0
	}
	return int64(*c.UserID)
}

// ReadOnly reports whether the token grants read-only access.
func (c *Claims) ReadOnly() bool { return c.Access == "ro" }

// JSONInt is a claim that must be a JSON integer: not a string, a float, an
// array or null.
type JSONInt int64

// UnmarshalJSON accepts only an integer literal.
func (n *JSONInt) UnmarshalJSON(b []byte) error {
	digits := bytes.TrimPrefix(b, []byte("-"))
	if len(digits) == 0 || len(digits) > 18 {
		return errors.New("claim must be an integer")
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return errors.New("claim must be an integer")
		}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return err
	}
	*n = JSONInt(v)
	return nil
}

// Int wraps an int64 for building claims.
func Int(v int64) *JSONInt { n := JSONInt(v); return &n }

// verifiedTokens is how many verified tokens Auth remembers. A hit skips
// the signature check and JSON decoding (the bulk of a request's auth cost);
// expiry is still checked on every use.
const verifiedTokens = 16384

// Auth signs and verifies HS256 tokens with one secret.
type Auth struct {
	secret   []byte
	parser   *jwt.Parser
	verified *lru.Cache[string, *Claims]
}

// NewAuth returns an Auth for the secret (at least 32 bytes).
func NewAuth(secret []byte) (*Auth, error) {
	if len(secret) < 32 {
		return nil, errors.New("jwt secret must be at least 32 bytes")
	}
	verified, err := lru.New[string, *Claims](verifiedTokens)
	if err != nil {
		return nil, err
	}
	return &Auth{
		secret:   secret,
		verified: verified,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // pinned: alg confusion is impossible
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
		),
	}, nil
}

// VerifyBytes is Verify for a token still in the request's buffer: a token
// verified before is found without copying it into a string (the cache
// keeps no key it is only asked about); a new one is copied and verified.
func (a *Auth) VerifyBytes(token []byte) (*Claims, error) {
	if len(token) > 0 {
		if c, ok, err := a.cached(unsafe.String(&token[0], len(token))); ok {
			return c, err
		}
	}
	return a.Verify(string(token))
}

// cached answers for a token verified before (ok), its expiry checked
// again; an expired one leaves the cache. token is not retained.
func (a *Auth) cached(token string) (c *Claims, found bool, err error) {
	c, found = a.verified.Get(token)
	if !found {
		return nil, false, nil
	}
	if time.Now().After(c.ExpiresAt.Add(Leeway)) {
		a.verified.Remove(token)
		return nil, true, ErrTokenExpired
	}
	return c, true, nil
}

// Verify checks a token's signature, algorithm, expiry and claim types.
// The returned claims are shared: callers must not modify them.
func (a *Auth) Verify(token string) (*Claims, error) {
	if c, ok, err := a.cached(token); ok {
		return c, err
	}
	var c Claims
	_, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrTokenExpired
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := checkClaimsStrict(token); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	switch c.Role {
	case RoleCustomer, RoleStaff, RoleAdmin, RoleService:
		if c.TenantID == nil || *c.TenantID <= 0 {
			return nil, fmt.Errorf("%w: tenant_id required", ErrInvalidToken)
		}
		if c.IssuedAt == nil {
			// Without it a token cannot be told from one issued to an
			// earlier tenant with the same id (see IssuedFor).
			return nil, fmt.Errorf("%w: iat required", ErrInvalidToken)
		}
	case RolePlatformAdmin:
	case RoleShard:
		if c.TenantID != nil {
			return nil, fmt.Errorf("%w: a shard token has no tenant_id", ErrInvalidToken)
		}
	default:
		return nil, fmt.Errorf("%w: unknown role", ErrInvalidToken)
	}
	a.verified.Add(token, &c)
	return &c, nil
}

// IssuedFor reports whether the token was issued after the tenant created
// at created came to be: a token issued to an earlier tenant that had the
// same id (deleted, then the id reused by an import) is refused. The
// leeway absorbs clock skew between the catalog and the token's issuer.
func (c *Claims) IssuedFor(created time.Time) bool {
	if created.IsZero() {
		return true
	}
	return c.IssuedAt != nil && !c.IssuedAt.Time.Before(created.Truncate(time.Second).Add(-Leeway))
}

// Issue signs claims valid for ttl and returns the token and its expiry.
// Every token gets a random id (jti), so it can be revoked on its own.
// An IssuedAt later than now is kept (see IssueAfter).
func (a *Auth) Issue(c Claims, ttl time.Duration) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(ttl).Truncate(time.Second)
	if c.IssuedAt == nil || c.IssuedAt.Before(now) {
		c.IssuedAt = jwt.NewNumericDate(now)
	}
	c.ExpiresAt = jwt.NewNumericDate(exp)
	if c.ID == "" {
		c.ID = newTokenID()
	}
	if c.Subject == "" {
		c.Subject = Subject(&c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// IssueAfter is Issue for a token that must not fall before a revocation
// cut-off (unix seconds; see catalog.Revocations.NotBefore): a token
// issued in the same second as a revocation would otherwise look older
// than it.
func (a *Auth) IssueAfter(c Claims, ttl time.Duration, notBefore int64) (string, time.Time, error) {
	if notBefore > time.Now().Unix() {
		c.IssuedAt = jwt.NewNumericDate(time.Unix(notBefore, 0))
	}
	return a.Issue(c, ttl)
}

// newTokenID is 16 random bytes, URL-safe.
func newTokenID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics on an unusable source)
	return base64.RawURLEncoding.EncodeToString(b)
}

// subject names the principal: role plus user id.
func Subject(c *Claims) string {
	return c.Role + ":" + strconv.FormatInt(c.User(), 10)
}

// bearer extracts the token from an Authorization header value: the scheme
// is matched case-insensitively, as libSQL clients and sqld do.
func Bearer(h []byte) ([]byte, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil, false
	}
	tok := bytes.TrimSpace(h[len(scheme):])
	return tok, len(tok) > 0
}

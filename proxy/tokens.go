package proxy

import "github.com/microfi/tenantgate/proxy/token"

// The token vocabulary lives in proxy/token; these names keep the proxy's
// public interface (cmd, tests, proxytest) as it was.
type (
	Claims  = token.Claims
	Auth    = token.Auth
	JSONInt = token.JSONInt
)

// Roles a token may carry.
const (
	RoleCustomer      = token.RoleCustomer
	RoleStaff         = token.RoleStaff
	RoleAdmin         = token.RoleAdmin
	RoleService       = token.RoleService
	RolePlatformAdmin = token.RolePlatformAdmin
	ScopeEnrol        = token.ScopeEnrol
)

// Authentication failures (token package), mapped to statuses in error.go.
var (
	ErrAuthRequired   = token.ErrAuthRequired
	ErrInvalidToken   = token.ErrInvalidToken
	ErrTokenExpired   = token.ErrTokenExpired
	ErrTokenRevoked   = token.ErrTokenRevoked
	ErrTenantMismatch = token.ErrTenantMismatch
	ErrForbidden      = token.ErrForbidden
)

// NewAuth returns an Auth for the secret (at least 32 bytes).
func NewAuth(secret []byte) (*Auth, error) { return token.NewAuth(secret) }

// Int wraps an int64 for building claims.
func Int(v int64) *JSONInt { return token.Int(v) }

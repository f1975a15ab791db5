// Package catalog is the tenant catalog: which tenants exist, which hosts
// route to them and where their databases live. Lookups by host go through
// an in-process cache (see cache.go) that every writer invalidates.
package catalog

import (
	"errors"
	"time"
)

// Tenant statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusDemo      = "demo"
)

// Errors returned by the catalog.
var (
	ErrTenantNotFound = errors.New("tenant not found")
	ErrHostTaken      = errors.New("host taken")
	ErrIDTaken        = errors.New("tenant id taken")
	ErrDomainTaken    = errors.New("custom domain taken")
	// ErrPrecondition: a conditional change found the tenant in another
	// state (e.g. a demo made permanent before the reaper got to it).
	ErrPrecondition  = errors.New("tenant changed concurrently")
	ErrInvalidHost   = errors.New("invalid host")
	ErrInvalidTenant = errors.New("invalid tenant")
	// ErrUnavailable wraps failures to reach the catalog database.
	ErrUnavailable = errors.New("catalog unavailable")
)

// Tenant is one client institution. Host is the subdomain label under the
// root domain; CustomDomain, when set, is a full host name.
type Tenant struct {
	ID           int64     `json:"id"`
	Host         string    `json:"host"`
	CustomDomain string    `json:"custom_domain,omitempty"`
	Name         string    `json:"name"`
	CountryCode  string    `json:"country_code"`
	Plan         string    `json:"subscription_plan"`
	Status       string    `json:"status"`
	DBURL        string    `json:"db_url,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	// QuotaBytes overrides the plan's storage quota (0: the plan's; see
	// catalog/tenants.Quota for the one in force).
	QuotaBytes int64 `json:"storage_quota_bytes,omitempty"`
}

// Expired reports whether the tenant is a demo past its expiry.
func (t Tenant) Expired(now time.Time) bool {
	return t.Status == StatusDemo && !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Suspended reports whether the tenant may not be served.
func (t Tenant) Suspended() bool { return t.Status == StatusSuspended }

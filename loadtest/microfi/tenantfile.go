package microfi

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// tenantRecord is a provisioned tenant as saved to a tenants file (no
// tokens: they are minted again on load).
type tenantRecord struct {
	ID       int64   `json:"id"`
	Sub      string  `json:"sub"`
	Host     string  `json:"host"`
	UserID   int64   `json:"user_id"`
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Accounts []int64 `json:"accounts"`
	Currency string  `json:"currency,omitempty"`
}

// SaveTenants writes tenants to path as JSON, so later runs against the
// same proxy can skip provisioning.
func SaveTenants(path string, tenants []*Tenant) error {
	recs := make([]tenantRecord, len(tenants))
	for i, t := range tenants {
		recs[i] = tenantRecord{ID: t.ID, Sub: t.Sub, Host: t.Host, UserID: t.UserID, Email: t.Email, Password: t.Password, Accounts: t.Accounts, Currency: t.Currency}
	}
	b, err := json.MarshalIndent(recs, "", " ")
	if err != nil {
		return fmt.Errorf("save tenants: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("save tenants: %w", err)
	}
	return nil
}

// LoadTenants reads a tenants file written by SaveTenants and mints fresh
// tokens with secret.
func LoadTenants(path string, secret []byte, ttl time.Duration) ([]*Tenant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tenants: %w", err)
	}
	var recs []tenantRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("load tenants %s: %w", path, err)
	}
	out := make([]*Tenant, len(recs))
	for i, r := range recs {
		t := &Tenant{ID: r.ID, Sub: r.Sub, Host: r.Host, UserID: r.UserID, Email: r.Email, Password: r.Password, Accounts: r.Accounts, Currency: r.Currency}
		if t.Token, err = MintToken(secret, t.ID, t.UserID, "staff", ttl); err != nil {
			return nil, err
		}
		if t.ServiceToken, err = MintToken(secret, t.ID, 0, "service", ttl); err != nil {
			return nil, err
		}
		if t.AdminToken, err = MintToken(secret, t.ID, 1, "admin", ttl); err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

package tenants

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog"
)

// Change is a partial update; nil fields are left alone. An empty
// CustomDomain removes it. Status may be active (which also makes a demo
// permanent), suspended, or demo for a tenant that already is one.
type Change struct {
	Name         *string
	Plan         *string
	CustomDomain *string
	Status       *string
	QuotaBytes   *int64 // storage quota override; 0 = back to the plan's
}

// Update validates c and applies it in one UPDATE statement that sets only
// the given fields: a concurrent change to another field is never lost.
func (s *Service) Update(ctx context.Context, id int64, c Change) (catalog.Tenant, error) {
	p := problems{}
	u := catalog.Update{}
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		p.add("name", NameProblem(n))
		u.Name = &n
	}
	if c.Plan != nil {
		pl := strings.TrimSpace(*c.Plan)
		p.add("subscription_plan", PlanProblem(pl))
		u.Plan = &pl
	}
	if c.CustomDomain != nil {
		d := normalizeDomain(*c.CustomDomain)
		if d != "" {
			p.add("custom_domain", domainProblem(d, s.root))
		}
		u.CustomDomain = &d
	}
	if c.QuotaBytes != nil {
		p.add("storage_quota_bytes", QuotaProblem(*c.QuotaBytes))
		u.QuotaBytes = c.QuotaBytes
	}
	if c.Status != nil {
		st := strings.TrimSpace(*c.Status)
		switch st {
		case catalog.StatusActive:
			// An active tenant has no expiry: activating a demo keeps it.
			u.ExpiresAt = &time.Time{}
		case catalog.StatusSuspended:
		case catalog.StatusDemo:
			u.IfStatus = catalog.StatusDemo // no way back into a demo
		default:
			p.add("status", "must be active or suspended")
		}
		u.Status = &st
	}
	if err := p.err(); err != nil {
		return catalog.Tenant{}, err
	}
	t, err := s.cat.Update(ctx, id, u)
	if errors.Is(err, catalog.ErrPrecondition) {
		return catalog.Tenant{}, &ValidationError{Fields: map[string]string{"status": "must be active or suspended"}}
	}
	if err != nil {
		return catalog.Tenant{}, err
	}
	if c.Status != nil && *u.Status == catalog.StatusSuspended {
		// Open handles re-check the catalog on the next acquire anyway;
		// closing them now ends long-lived SQL streams too.
		s.shards.Evict(id)
	}
	return t, nil
}

// Suspend stops a tenant from being served (403 Tenant suspended).
func (s *Service) Suspend(ctx context.Context, id int64) (catalog.Tenant, error) {
	st := catalog.StatusSuspended
	return s.Update(ctx, id, Change{Status: &st})
}

// Resume serves a suspended tenant again, as an active (permanent) tenant.
func (s *Service) Resume(ctx context.Context, id int64) (catalog.Tenant, error) {
	st := catalog.StatusActive
	return s.Update(ctx, id, Change{Status: &st})
}

// MakePermanent turns a demo into an active tenant without expiry, in one
// statement conditional on it still being a demo: a reaper pass racing it
// either deleted the demo first (ErrTenantNotFound) or finds it permanent.
// An already active tenant is returned unchanged.
func (s *Service) MakePermanent(ctx context.Context, id int64) (catalog.Tenant, error) {
	st := catalog.StatusActive
	t, err := s.cat.Update(ctx, id, catalog.Update{Status: &st, ExpiresAt: &time.Time{}, IfStatus: catalog.StatusDemo})
	if errors.Is(err, catalog.ErrPrecondition) {
		if t.Status == catalog.StatusActive {
			return t, nil
		}
		return catalog.Tenant{}, &ValidationError{Fields: map[string]string{"status": "is " + t.Status + ", not a demo"}}
	}
	return t, err
}

package tenants

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard"
)

// Demo tenants.
const (
	DemoTenantName = "Demo Microfinance"
	demoHostRandom = 10 // base32 characters: 50 random bits
)

// undoTimeout bounds the clean-up of a failed create; it runs on a fresh
// context because the caller's may be what failed.
const undoTimeout = 10 * time.Second

// SeedFunc fills a new tenant database before the tenant becomes reachable.
type SeedFunc func(ctx context.Context, db *sql.DB, tenantID int64) error

// CreateRequest describes a tenant to create.
type CreateRequest struct {
	ID           int64 // 0 = the next id; an explicit id must never have been used
	Host         string
	Name         string
	Country      string
	CustomDomain string
	Plan         string // "" = starter
	DBURL        string // "" = a local file under the data dir
	Status       string // "" or active, or suspended
	QuotaBytes   int64  // storage quota override; 0 = the plan's (Quota)
	Seed         SeedFunc
}

// DemoRequest describes a public demo tenant.
type DemoRequest struct {
	Country string
	TTL     time.Duration
	Seed    SeedFunc
}

// Check normalises req in place (trimmed fields, upper-case country,
// normalised domain, default plan) and returns a *ValidationError listing
// every rule it breaks, or nil.
func (s *Service) Check(req *CreateRequest) error {
	p := problems{}
	s.check(req, p)
	return p.err()
}

func (s *Service) check(req *CreateRequest, p problems) {
	req.Host = strings.TrimSpace(req.Host)
	req.Name = strings.TrimSpace(req.Name)
	req.Country = strings.ToUpper(strings.TrimSpace(req.Country))
	req.Plan = strings.TrimSpace(req.Plan)
	if req.Plan == "" {
		req.Plan = Plans[0]
	}
	if req.Status == "" {
		req.Status = catalog.StatusActive
	}
	if req.ID < 0 {
		p.add("id", "must be a positive integer")
	}
	p.add("host", HostProblem(req.Host))
	p.add("name", NameProblem(req.Name))
	p.add("country", CountryProblem(req.Country))
	p.add("subscription_plan", PlanProblem(req.Plan))
	p.add("storage_quota_bytes", QuotaProblem(req.QuotaBytes))
	if req.CustomDomain != "" {
		req.CustomDomain = normalizeDomain(req.CustomDomain)
		p.add("custom_domain", domainProblem(req.CustomDomain, s.root))
	}
	if req.Status != catalog.StatusActive && req.Status != catalog.StatusSuspended {
		p.add("status", "must be active or suspended")
	}
}

// Create validates req and provisions the tenant: catalog row and database,
// seeded, as one unit. The tenant is either there whole (row visible,
// database complete and stamped) or not at all, whatever fails or however
// the process dies; see provision.
func (s *Service) Create(ctx context.Context, req CreateRequest) (catalog.Tenant, error) {
	if err := s.Check(&req); err != nil {
		return catalog.Tenant{}, err
	}
	return s.provision(ctx, catalog.Tenant{
		ID: req.ID, Host: req.Host, Name: req.Name, CountryCode: req.Country, CustomDomain: req.CustomDomain,
		Plan: req.Plan, DBURL: req.DBURL, Status: req.Status, QuotaBytes: req.QuotaBytes,
	}, req.Seed)
}

// CreateDemo provisions a demo tenant under an unguessable host
// (demo-<10 random base32 characters>) that expires after TTL.
func (s *Service) CreateDemo(ctx context.Context, req DemoRequest) (catalog.Tenant, error) {
	req.Country = strings.ToUpper(strings.TrimSpace(req.Country))
	if msg := CountryProblem(req.Country); msg != "" {
		return catalog.Tenant{}, &ValidationError{Fields: map[string]string{"country": msg}}
	}
	if req.TTL <= 0 {
		return catalog.Tenant{}, &ValidationError{Fields: map[string]string{"expires_at": "must be in the future"}}
	}
	var t catalog.Tenant
	var err error
	// 50 random bits make a collision all but impossible; retry anyway.
	for range 3 {
		t, err = s.provision(ctx, catalog.Tenant{
			Host: DemoHostPrefix + randomLabel(demoHostRandom), Name: DemoTenantName, CountryCode: req.Country,
			Plan: Plans[0], Status: catalog.StatusDemo, ExpiresAt: s.now().Add(req.TTL).UTC().Truncate(time.Second),
		}, req.Seed)
		if !errors.Is(err, catalog.ErrHostTaken) {
			break
		}
	}
	return t, err
}

// EnsureShowcase creates the platform's showcase tenant (host "demo",
// country GH; id 1 on a new catalog) when the catalog has no tenant, and
// reports whether it did.
func (s *Service) EnsureShowcase(ctx context.Context, seed SeedFunc) (bool, error) {
	_, total, err := s.cat.List(ctx, catalog.ListOptions{Limit: 1})
	if err != nil || total > 0 {
		return false, err
	}
	high, err := s.cat.HighestID(ctx)
	if err != nil {
		return false, err
	}
	id := int64(0)
	if high == 0 {
		id = 1
	}
	_, err = s.provision(ctx, catalog.Tenant{ID: id, Host: ShowcaseHost, Name: "Demo Tenant", CountryCode: "GH",
		Plan: Plans[0], Status: catalog.StatusActive}, seed)
	if errors.Is(err, catalog.ErrHostTaken) {
		return false, nil // another process got there first
	}
	return err == nil, err
}

// provision creates t crash-consistently:
//
//  1. lock a fresh owner file (flock; the kernel releases it if we die);
//  2. insert the row as 'provisioning', naming the owner: invisible to
//     every lookup, but its UNIQUE host already decides races;
//  3. build the database under a temp name, stamp and seed it, fsync it and
//     link it into place (shard.ProvisionWith);
//  4. flip the row to its final status.
//
// A failure undoes what was done, on a fresh context. A crash leaves a
// provisioning row whose owner is unlocked; Reconcile finishes it (database
// complete) or removes it (not).
func (s *Service) provision(ctx context.Context, t catalog.Tenant, seed SeedFunc) (catalog.Tenant, error) {
	lock, err := s.lockOwner()
	if err != nil {
		return catalog.Tenant{}, err
	}
	defer lock.release()
	row, err := s.cat.InsertProvisioning(ctx, t, lock.owner)
	if err != nil {
		// The INSERT may have committed even though we saw an error (the
		// context ended while its result was read): remove it by owner.
		s.undo(ctx, lock.owner, 0, "", false)
		return catalog.Tenant{}, s.createError(ctx, err)
	}
	s.hook("inserted")
	err = s.shards.ProvisionWith(ctx, row.ID, row.DBURL, func(ctx context.Context, db *sql.DB) error {
		s.hook("building")
		if seed == nil {
			return nil
		}
		return seed(ctx, db, row.ID)
	})
	if err != nil {
		// A database that already existed belongs to someone else and
		// stays; anything this create built is removed.
		s.undo(ctx, lock.owner, row.ID, row.DBURL, !errors.Is(err, shard.ErrExists))
		return catalog.Tenant{}, fmt.Errorf("provision tenant %q: %w", row.Host, err)
	}
	s.hook("built")
	// The database is complete: finishing is one short UPDATE, run to the
	// end even if the caller has gone, so the work is not thrown away.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	done, err := s.cat.FinishProvisioning(fctx, row.ID)
	if err != nil {
		// The flip may have committed before the error reached us: remove
		// the database only if the row was still ours to remove.
		if n, aerr := s.cat.AbandonProvisioning(fctx, lock.owner); aerr == nil && n == 1 {
			if rerr := s.shards.Remove(fctx, row.ID, row.DBURL); rerr != nil {
				s.log.Error("remove database of failed tenant create", "tenant_id", row.ID, "err", rerr)
			}
		} else if got, gerr := s.cat.Get(fctx, row.ID); gerr == nil {
			return got, nil
		}
		return catalog.Tenant{}, fmt.Errorf("provision tenant %q: %w", row.Host, err)
	}
	s.hook("finished")
	s.log.Info("tenant created", "tenant_id", done.ID, "host", done.Host, "status", done.Status)
	return done, nil
}

// undo removes what a failed create made: first its database (when
// removeDB), then its provisioning row, so a crash in between leaves a row
// without a database, which Reconcile removes.
func (s *Service) undo(ctx context.Context, owner string, id int64, dbURL string, removeDB bool) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var errs []error
	if removeDB && id != 0 {
		errs = append(errs, s.shards.Remove(uctx, id, dbURL))
	}
	_, err := s.cat.AbandonProvisioning(uctx, owner)
	if err = errors.Join(append(errs, err)...); err != nil {
		s.log.Error("roll back failed tenant create; start-up reconciliation will finish it", "tenant_id", id, "err", err)
	}
}

// createError turns an id refused by the never-reuse rule into a field error.
func (s *Service) createError(ctx context.Context, err error) error {
	if !errors.Is(err, catalog.ErrIDTaken) {
		return err
	}
	msg := "is already taken or was used before (ids are never reused); leave it out for the next free one"
	if high, herr := s.cat.HighestID(context.WithoutCancel(ctx)); herr == nil {
		msg += fmt.Sprintf(" or pick one above %d", high)
	}
	return &ValidationError{Fields: map[string]string{"id": msg}}
}

// lowerBase32 is RFC 4648 base32 in lower case without padding: only a-z
// and 2-7, so always a valid DNS label.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomLabel returns n random base32 characters from the system's CSPRNG.
func randomLabel(n int) string {
	b := make([]byte, (n*5+7)/8)
	rand.Read(b)
	return lowerBase32.EncodeToString(b)[:n]
}

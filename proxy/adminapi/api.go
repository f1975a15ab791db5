// Package adminapi is the platform's admin API on admin.<root>
// (/api/admin/*): tenants (list, create, change, delete with a backup,
// seed), the demo conversion figures, the platform audit trail and token
// revocation. The edge (proxy) authenticates the platform admin first and
// turns the returned errors into JSON.
package adminapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard"
)

// Config is what the admin API needs from the edge. All fields but
// BackupDir are required.
type Config struct {
	Catalog        *catalog.Catalog
	Tenants        *tenants.Service
	Shards         *shard.Manager
	BackupDir      string // where deletes keep a copy of the database
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// URL is the public base URL of a host under the root domain.
	URL func(label string) string
	// DomainTLS is a custom domain's certificate state and DNS record.
	DomainTLS func(ctx context.Context, domain string) *httpapi.DomainTLSView
	Now       func() time.Time
	// Registry is this proxy's fleet membership: the fleet listing names
	// it, and changes that must be in force everywhere wait for every live
	// proxy. nil = not registered (nothing is waited for).
	Registry *registry.Registry
}

// API holds the admin API's handlers.
type API struct {
	catalog   *catalog.Catalog
	tenants   *tenants.Service
	shards    *shard.Manager
	backupDir string
	timeout   time.Duration
	log       *slog.Logger
	url       func(label string) string
	domainTLS func(ctx context.Context, domain string) *httpapi.DomainTLSView
	now       func() time.Time
	members   *registry.Registry
}

// New returns the admin API for cfg.
func New(cfg Config) *API {
	return &API{catalog: cfg.Catalog, tenants: cfg.Tenants, shards: cfg.Shards, backupDir: cfg.BackupDir,
		timeout: cfg.RequestTimeout, log: cfg.Logger, url: cfg.URL, domainTLS: cfg.DomainTLS, now: cfg.Now,
		members: cfg.Registry}
}

// requestContext is a request-scoped context with the configured deadline
// (fasthttp's ctx is not cancelled per request).
func (s *API) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// Package bankapi is a tenant's banking API: logins and tokens, users and
// their access, accounts, transactions, the audit trail and settings. Each
// handler gets an httpapi.Request the edge (proxy) has already routed,
// authenticated, limited and bound to the tenant's database; it returns an
// error, and the edge turns that into the JSON answer.
package bankapi

import (
	"context"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
)

// Config is what the banking API needs from the edge. All fields are required.
type Config struct {
	Catalog *catalog.Catalog // token revocations
	Auth    *token.Auth      // signs login tokens
	Logger  *slog.Logger
	// URL is the public base URL of a host under the root domain ("" = the root).
	URL func(label string) string
	// DomainTLS is a custom domain's certificate state and DNS record.
	DomainTLS func(ctx context.Context, domain string) *httpapi.DomainTLSView
	Limits    Limits
}

// Limits are the edge's login limits: the edge owns and counts them, the
// login handler asks them.
type Limits struct {
	// LoginAllowed spends one login attempt of the client, the tenant and
	// the e-mail, or returns the 429 to answer.
	LoginAllowed func(ctx *fasthttp.RequestCtx, tenant int64, email string) error
	// LoginSucceeded forgets the e-mail's failures.
	LoginSucceeded func(tenant int64, email string)
	// HashTurn waits for the tenant's turn at password hashing.
	HashTurn func(c context.Context, tenant int64) (release func(), err error)
	// AuthFailed counts a refused login by reason.
	AuthFailed func(reason string)
}

// API holds the banking API's handlers; proxy's route table points at them.
type API struct {
	catalog   *catalog.Catalog
	auth      *token.Auth
	log       *slog.Logger
	url       func(label string) string
	domainTLS func(ctx context.Context, domain string) *httpapi.DomainTLSView
	limits    Limits
}

// New returns the banking API for cfg.
func New(cfg Config) *API {
	return &API{catalog: cfg.Catalog, auth: cfg.Auth, log: cfg.Logger, url: cfg.URL, domainTLS: cfg.DomainTLS, limits: cfg.Limits}
}

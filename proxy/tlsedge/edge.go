// Package tlsedge is the HTTPS side of the proxy: the TLS configuration of
// the HTTPS listener, the operator's certificate for the platform's own
// hosts, and certmagic's on-demand certificates for everything else, with
// the catalog deciding which names may have one. Certificates live in the
// catalog (catalog/certstore), so every proxy on one catalog shares them.
package tlsedge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/certstore"
)

// Defaults for Config.
const (
	DefaultMaintenanceInterval = time.Hour
	DefaultHandshakeTimeout    = 10 * time.Second
	DefaultTenantOrderBurst    = 5
	DefaultOrderBurst          = 60
)

// Default order budgets: per tenant a handful an hour (a tenant has two
// names at most, and renewals are rare); globally well inside the public
// CAs' limits on new orders per account.
var (
	DefaultTenantOrderRate = rate.Every(20 * time.Minute)
	DefaultOrderRate       = rate.Every(30 * time.Second)
)

// ACME configures on-demand certificates from an ACME CA.
type ACME struct {
	CA        string // directory URL; default Let's Encrypt production
	Email     string // account contact
	ExtraRoot []byte // PEM: an extra root to trust when talking to the CA (private and test CAs)
	Profile   string // certificate profile to ask the CA for ("" = its default)
	// DisableARI ignores the CA's renewal windows (ACME Renewal Info) and
	// renews in the last third of a certificate's life. For CAs whose
	// windows are unusable, like Pebble's for certificates of seconds.
	DisableARI bool
}

// Config wires an Edge. RootDomain and Catalog are required, and Store
// when ACME is set.
type Config struct {
	RootDomain  string           // normalised root domain R
	Certificate *tls.Certificate // the operator's certificate for R and *.R; nil = ACME covers them too
	ACME        *ACME            // nil = no certificates are obtained
	Catalog     *catalog.Catalog
	Store       *certstore.Store

	// The listeners ACME challenges arrive on: HTTP-01 on HTTPAddr (the
	// plain listener; "" = HTTP-01 off), TLS-ALPN-01 on TLSAddr.
	HTTPAddr, TLSAddr string

	DisableSessionTickets bool          // resumption off (benchmarks)
	HandshakeTimeout      time.Duration // default DefaultHandshakeTimeout
	MaintenanceInterval   time.Duration // renewal and expiry sweep; default DefaultMaintenanceInterval
	RenewalWindowRatio    float64       // renew when this fraction of a certificate's life is left; 0 = certmagic's 1/3
	TenantOrderRate       rate.Limit    // 0 = DefaultTenantOrderRate
	TenantOrderBurst      int           // 0 = DefaultTenantOrderBurst
	OrderRate             rate.Limit    // global; 0 = DefaultOrderRate
	OrderBurst            int           // 0 = DefaultOrderBurst

	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Edge serves certificates to the HTTPS listener.
type Edge struct {
	cfg          Config
	log          *slog.Logger
	metrics      *metrics
	tlsConfig    *tls.Config
	orderLimit   *rate.Limiter
	tenantLimits *expirable.LRU[int64, *rate.Limiter]
	staticLeaf   *x509.Certificate

	// Set by Start when ACME is configured.
	magic  *certmagic.Config
	cache  *certmagic.Cache
	issuer *certmagic.ACMEIssuer

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New checks cfg and builds an Edge; Start makes it serve certificates.
func New(cfg Config) (*Edge, error) {
	if cfg.RootDomain == "" || cfg.Catalog == nil {
		return nil, errors.New("tlsedge: RootDomain and Catalog are required")
	}
	if cfg.Certificate == nil && cfg.ACME == nil {
		return nil, errors.New("tlsedge: HTTPS needs a certificate (--tls-cert and --tls-key) or ACME (--acme-email)")
	}
	if cfg.ACME != nil && cfg.Store == nil {
		return nil, errors.New("tlsedge: ACME needs a Store")
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if cfg.TenantOrderRate == 0 {
		cfg.TenantOrderRate = DefaultTenantOrderRate
	}
	if cfg.TenantOrderBurst <= 0 {
		cfg.TenantOrderBurst = DefaultTenantOrderBurst
	}
	if cfg.OrderRate == 0 {
		cfg.OrderRate = DefaultOrderRate
	}
	if cfg.OrderBurst <= 0 {
		cfg.OrderBurst = DefaultOrderBurst
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Edge{
		cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registerer),
		orderLimit:   rate.NewLimiter(cfg.OrderRate, cfg.OrderBurst),
		tenantLimits: expirable.NewLRU[int64, *rate.Limiter](10_000, nil, 24*time.Hour),
	}
	if c := cfg.Certificate; c != nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("tls certificate: %w", err)
		}
		if err := leaf.VerifyHostname("tenantgate-check." + cfg.RootDomain); err != nil {
			if err := leaf.VerifyHostname(cfg.RootDomain); err != nil {
				return nil, fmt.Errorf("tls certificate covers neither %s nor *.%s", cfg.RootDomain, cfg.RootDomain)
			}
		}
		e.staticLeaf = leaf
	}
	e.tlsConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// TLS 1.2 suites: forward-secret AEADs only (Go picks TLS 1.3's).
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:             []string{"http/1.1"},
		GetCertificate:         e.getCertificate,
		SessionTicketsDisabled: cfg.DisableSessionTickets,
	}
	if cfg.ACME != nil {
		e.tlsConfig.NextProtos = append(e.tlsConfig.NextProtos, "acme-tls/1")
	}
	return e, nil
}

// Start checks the storage key against stored keys, starts certmagic's
// cache and the maintenance loop.
func (e *Edge) Start(ctx context.Context) error {
	if e.cfg.ACME != nil {
		if err := e.cfg.Store.CheckKey(ctx); err != nil {
			return err
		}
		if err := e.startACME(); err != nil {
			return err
		}
	}
	if e.staticLeaf != nil {
		e.metrics.expiry.Set(float64(e.staticLeaf.NotAfter.Unix()))
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stop = stop
	if e.cfg.ACME != nil {
		e.wg.Go(func() { e.maintainLoop(bg) })
	}
	return nil
}

func (e *Edge) startACME() error {
	a := e.cfg.ACME
	zl := zapToSlog(e.log)
	var roots *x509.CertPool
	if len(a.ExtraRoot) > 0 {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(a.ExtraRoot) {
			return errors.New("acme ca root: no PEM certificate found")
		}
	}
	e.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return e.magic, nil },
		// certmagic treats a certificate within 5 check intervals of its
		// end as an emergency; our sweep is the check.
		RenewCheckInterval: e.cfg.MaintenanceInterval,
		Logger:             zl,
	})
	e.magic = certmagic.New(e.cache, certmagic.Config{
		Storage:            e.cfg.Store,
		OnDemand:           &certmagic.OnDemandConfig{DecisionFunc: e.decisionFunc},
		OnEvent:            e.onEvent,
		OCSP:               certmagic.OCSPConfig{DisableStapling: true}, // public CAs have dropped OCSP; no outbound calls in handshakes
		DisableARI:         a.DisableARI,
		RenewalWindowRatio: e.cfg.RenewalWindowRatio,
		Logger:             zl,
	})
	ca := a.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	tmpl := certmagic.ACMEIssuer{
		CA: ca, Email: a.Email, Agreed: true, TrustedRoots: roots, Profile: a.Profile,
		DisableHTTPChallenge:    e.cfg.HTTPAddr == "",
		DisableTLSALPNChallenge: e.cfg.TLSAddr == "",
		Logger:                  zl,
	}
	// certmagic answers challenges through our own listeners: pointed at
	// their addresses, it finds them taken and leaves the serving to us.
	if host, port, err := net.SplitHostPort(e.cfg.HTTPAddr); err == nil {
		tmpl.ListenHost = host
		tmpl.AltHTTPPort, _ = strconv.Atoi(port)
	}
	if _, port, err := net.SplitHostPort(e.cfg.TLSAddr); err == nil {
		tmpl.AltTLSALPNPort, _ = strconv.Atoi(port)
	}
	e.issuer = certmagic.NewACMEIssuer(e.magic, tmpl)
	e.magic.Issuers = []certmagic.Issuer{e.issuer}
	return nil
}

// Close stops the maintenance loop and certmagic's cache.
func (e *Edge) Close() {
	if e.stop != nil {
		e.stop()
	}
	e.wg.Wait()
	if e.cache != nil {
		e.cache.Stop()
	}
}

// TLSConfig is the HTTPS listener's configuration.
func (e *Edge) TLSConfig() *tls.Config { return e.tlsConfig }

// decisionFunc is certmagic's on-demand gate (it also asks before loading a
// certificate from storage): the catalog's word, through its cache.
func (e *Edge) decisionFunc(ctx context.Context, host string) error {
	_, err := e.decide(ctx, host)
	return err
}

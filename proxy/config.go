package proxy

import (
	"fmt"
	"log/slog"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/site"
	"github.com/microfi/tenantgate/proxy/tenantmetrics"
)

// Off, in any Config field that documents it, turns a limit or a
// background task off; zero there means the default. cmd maps each flag's
// "0 = off" onto it, so flags and Config share one meaning of off.
const Off = -1

// withDefaults fills every zero field of the Config with its default, once,
// in New: nothing downstream re-applies a default. Zero means "the
// default"; Off (any negative value) means "no limit" or "not running"
// wherever a field documents it.
func (cfg *Config) withDefaults() error {
	if cfg.RootDomain == "" {
		cfg.RootDomain = DefaultRootDomain
	}
	root, err := catalog.NormalizeHost(cfg.RootDomain)
	if err != nil {
		return fmt.Errorf("root domain: %w", err)
	}
	cfg.RootDomain = root
	if cfg.PublicScheme == "" {
		cfg.PublicScheme = "http"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tenants == nil {
		cfg.Tenants = tenants.New(tenants.Options{Catalog: cfg.Catalog, Shards: cfg.Shards, RootDomain: cfg.RootDomain, Logger: cfg.Logger})
	}
	cfg.Edge.withDefaults()
	rateDefault(&cfg.LoginIPLimit, DefaultLoginIPLimit)
	rateDefault(&cfg.LoginTenantLimit, DefaultLoginTenantLimit)
	rateDefault(&cfg.TenantRate, DefaultTenantRate)
	rateDefault(&cfg.DemoLimit, DefaultDemoLimit)
	rateDefault(&cfg.SignupLimit, DefaultSignupLimit)
	if cfg.TenantMaxInFlight == 0 {
		cfg.TenantMaxInFlight = DefaultTenantMaxInFlight
	}
	if cfg.DemoTTL <= 0 {
		cfg.DemoTTL = site.DefaultDemoTTL
	}
	if cfg.LoginWait <= 0 {
		cfg.LoginWait = DefaultLoginWait
	}
	if cfg.TenantMetricsInterval <= 0 {
		cfg.TenantMetricsInterval = tenantmetrics.DefaultInterval
	}
	if cfg.ReapInterval == 0 {
		cfg.ReapInterval = tenants.DefaultReapInterval
	}
	if cfg.SQLPlans == nil {
		cfg.SQLPlans = DefaultSQLPlans()
	}
	if cfg.CPUWeights == nil {
		cfg.CPUWeights = DefaultCPUWeights()
	}
	return nil
}

// rateDefault gives a zero RateLimit its default.
func rateDefault(l *RateLimit, def RateLimit) {
	if *l == (RateLimit{}) {
		*l = def
	}
}

package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// cache keeps host lookups in memory: found tenants for PositiveTTL, unknown
// hosts for the shorter NegativeTTL (so a flood of random hosts costs one
// query each per NegativeTTL), with one in-flight catalog query per key.
//
// Every invalidation bumps gen; a load that started before a bump does not
// store its (possibly stale) answer.
type cache struct {
	c        *Catalog
	positive *expirable.LRU[cacheKey, Tenant]
	negative *expirable.LRU[cacheKey, struct{}]
	flight   singleflight.Group
	gen      atomic.Uint64
	seq      int64 // last change-log sequence applied; owned by the poller
	m        *metrics
}

func newCache(c *Catalog, opts Options, m *metrics) *cache {
	onEvict := func(cacheKey, Tenant) { m.evictions.Inc() }
	return &cache{
		c:        c,
		positive: expirable.NewLRU(opts.CacheSize, onEvict, opts.PositiveTTL),
		negative: expirable.NewLRU[cacheKey, struct{}](opts.CacheSize, nil, opts.NegativeTTL),
		m:        m,
	}
}

// cacheKey names one lookup: a host label or a custom domain. A struct
// rather than a prefixed string, so a cache hit builds no string.
type cacheKey struct {
	domain bool
	name   string
}

func hostKey(host string) cacheKey     { return cacheKey{name: host} }
func domainKey(domain string) cacheKey { return cacheKey{domain: true, name: domain} }

// flightKey is the key's singleflight name (built on misses only).
func (k cacheKey) flightKey() string {
	if k.domain {
		return "d:" + k.name
	}
	return "h:" + k.name
}

// FindByHost returns the tenant whose host label is host (already
// normalised), through the cache.
func (c *Catalog) FindByHost(ctx context.Context, host string) (Tenant, error) {
	return c.cache.find(ctx, hostKey(host))
}

// FindByDomain returns the tenant whose custom domain is domain (already
// normalised), through the cache.
func (c *Catalog) FindByDomain(ctx context.Context, domain string) (Tenant, error) {
	return c.cache.find(ctx, domainKey(domain))
}

func (k *cache) find(ctx context.Context, key cacheKey) (Tenant, error) {
	if t, ok := k.positive.Get(key); ok {
		k.m.hits.Inc()
		return t, nil
	}
	if _, ok := k.negative.Get(key); ok {
		k.m.negativeHits.Inc()
		return Tenant{}, ErrTenantNotFound
	}
	k.m.misses.Inc()
	// The shared load runs detached from any one caller's cancellation, so
	// one client hanging up cannot fail the others waiting on the same key.
	ch := k.flight.DoChan(key.flightKey(), func() (any, error) {
		gen := k.gen.Load()
		loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		start := time.Now()
		st := k.c.byHost
		if key.domain {
			st = k.c.byDomain
		}
		row := st.QueryRowContext(loadCtx, key.name)
		t, err := scanTenant(row)
		k.m.lookupDuration.Observe(time.Since(start).Seconds())
		switch {
		case errors.Is(err, ErrTenantNotFound):
			if k.gen.Load() == gen {
				k.negative.Add(key, struct{}{})
			}
			return Tenant{}, err
		case err != nil:
			k.m.errors.Inc()
			return Tenant{}, fmt.Errorf("%w: look up tenant: %w", ErrUnavailable, err)
		}
		if k.gen.Load() == gen {
			k.positive.Add(key, t)
		}
		return t, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Tenant{}, r.Err
		}
		return r.Val.(Tenant), nil
	case <-ctx.Done():
		return Tenant{}, ctx.Err()
	}
}

// invalidate forgets keys, positive and negative.
func (k *cache) invalidate(keys ...cacheKey) {
	k.gen.Add(1)
	for _, key := range keys {
		k.positive.Remove(key)
		k.negative.Remove(key)
	}
}

// invalidateTenant forgets every key under which old or updated is known.
func (k *cache) invalidateTenant(old, updated Tenant) {
	keys := []cacheKey{hostKey(old.Host), hostKey(updated.Host)}
	if old.CustomDomain != "" {
		keys = append(keys, domainKey(old.CustomDomain))
	}
	if updated.CustomDomain != "" {
		keys = append(keys, domainKey(updated.CustomDomain))
	}
	k.invalidate(keys...)
}

// purge forgets everything (used when the change log cannot be trusted).
func (k *cache) purge() {
	k.gen.Add(1)
	k.positive.Purge()
	k.negative.Purge()
}

package catalog

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	hits, misses, negativeHits, evictions, errors prometheus.Counter
	stalePurges                                   prometheus.Counter
	lookupDuration                                prometheus.Observer
}

// newMetrics registers the catalog's metrics on reg (nil: not exported).
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		hits:         f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_catalog_cache_hits_total", Help: "Host lookups answered from the positive cache."}),
		misses:       f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_catalog_cache_misses_total", Help: "Host lookups that went to the catalog database."}),
		negativeHits: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_catalog_cache_negative_hits_total", Help: "Host lookups answered 'unknown' from the negative cache."}),
		evictions:    f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_catalog_cache_evictions_total", Help: "Positive cache entries removed (expiry, capacity or invalidation)."}),
		errors:       f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_catalog_errors_total", Help: "Catalog database errors (lookups and change polling)."}),
		stalePurges: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_catalog_stale_purges_total",
			Help: "Poll ticks that dropped the caches because no change poll had succeeded for the stale timeout."}),
		lookupDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "tenantgate_catalog_lookup_duration_seconds", Help: "Catalog database lookup latency on cache misses.",
			Buckets:                     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
			NativeHistogramBucketFactor: 1.1,
		}),
	}
}

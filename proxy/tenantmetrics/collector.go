package tenantmetrics

import "github.com/prometheus/client_golang/prometheus"

// collector gathers every per-tenant family in one pass under the scrape
// lock. Registered one by one, the families would be collected apart, and
// a re-rank between two of them would show the old tenants in one and the
// new ones in the next: more than N+1 tenant label values in one scrape.
type collector struct{ ts *Series }

func (c collector) families() []prometheus.Collector {
	ts := c.ts
	return []prometheus.Collector{ts.requests, ts.errors, ts.throttled, ts.duration, ts.cpu}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.families() {
		f.Describe(ch)
	}
	ch <- dbBytesDesc
	ch <- walBytesDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.ts.scrape.RLock()
	defer c.ts.scrape.RUnlock()
	for _, f := range c.families() {
		f.Collect(ch)
	}
	c.ts.collectSizes(ch)
}

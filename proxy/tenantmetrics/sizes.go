package tenantmetrics

import "github.com/prometheus/client_golang/prometheus"

// Size is the bytes one tenant (or a group of tenants) has on disk.
type Size struct {
	DB  int64 // the database file
	WAL int64 // its write-ahead log
}

// SizeFunc reports, at scrape time, the sizes of the tenants with the given
// catalog ids (a tenant missing from each, such as one whose database lives
// on another shard, gets no series) and the total of every other tenant
// database open on this process ("other").
type SizeFunc func(ids []int64) (each map[int64]Size, other Size)

// SetSizes installs the function the db and WAL byte gauges are read from;
// until it is set they are not exported.
func (ts *Series) SetSizes(f SizeFunc) {
	if ts != nil {
		ts.sizes.Store(&f)
	}
}

var (
	dbBytesDesc = prometheus.NewDesc("tenantgate_tenant_db_bytes",
		"Size of the tenant's database file, for the busiest tenants; tenant=\"other\" is the total of every other tenant database open on this proxy.",
		[]string{"tenant"}, nil)
	walBytesDesc = prometheus.NewDesc("tenantgate_tenant_wal_bytes",
		"Size of the tenant's write-ahead log, for the busiest tenants; tenant=\"other\" is the total of every other tenant database open on this proxy.",
		[]string{"tenant"}, nil)
)

// collectSizes reads the file sizes when scraped: they change with every
// write, so they are looked at (a few stat calls) only when someone asks.
func (ts *Series) collectSizes(ch chan<- prometheus.Metric) {
	f := ts.sizes.Load()
	if f == nil {
		return
	}
	top := ts.top.Load()
	ids := make([]int64, 0, len(top.byID))
	for id := range top.byID {
		ids = append(ids, id)
	}
	each, other := (*f)(ids)
	emit := func(label string, s Size) {
		ch <- prometheus.MustNewConstMetric(dbBytesDesc, prometheus.GaugeValue, float64(s.DB), label)
		ch <- prometheus.MustNewConstMetric(walBytesDesc, prometheus.GaugeValue, float64(s.WAL), label)
	}
	for host, tc := range top.byHost {
		if s, ok := each[tc.id]; ok && tc.id != 0 {
			emit(host, s)
		}
	}
	emit(Other, other)
}

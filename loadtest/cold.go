package loadtest

import (
	"bytes"

	"github.com/microfi/tenantgate/loadtest/metrics"
)

// ColdSubMetrics are the sub-metrics a cold run (RunConfig.Cold) reports:
// latency of requests that opened the tenant's database and of those that
// found it open, and how many opened it.
var ColdSubMetrics = []string{
	metrics.MetricReqDuration + "{cold:true}",
	metrics.MetricReqDuration + "{cold:false}",
	metrics.MetricReqs + "{cold:true}",
}

var (
	headerServerTiming = []byte("Server-Timing")
	coldMark           = []byte("desc=cold")
)

// isCold reports whether a Server-Timing value says the tenant database
// was opened for this request (tenantgate: "tenant-db;desc=cold;dur=MS").
func isCold(serverTiming []byte) bool {
	return len(serverTiming) > 0 && bytes.Contains(serverTiming, coldMark)
}

// ColdShare is the share of requests that opened their tenant's database
// in a cold run, and how many did.
func ColdShare(col *metrics.Collector) (share float64, cold, total float64) {
	cold, _ = col.Value(metrics.MetricReqs+"{cold:true}", "count")
	total, _ = col.Value(metrics.MetricReqs, "count")
	if total == 0 {
		return 0, cold, total
	}
	return cold / total, cold, total
}

package metrics

import (
	"strconv"
	"time"
)

// Sample is the outcome of one iteration (one HTTP request). Tags are kept
// as indexes and small values so that recording allocates nothing.
type Sample struct {
	Scenario int    // index into the collector's scenario names
	Tenant   int    // index into the collector's tenant hosts
	Method   string // HTTP method
	Status   int    // HTTP status; 0 when the request failed to complete
	Failed   bool   // not an expected response (http_req_failed)
	// Cold: the server said the request had to open the tenant's
	// database (tenantgate serve --server-timing).
	Cold     bool
	Duration time.Duration // from the scheduled start to the end of the response
	Delay    time.Duration // from the scheduled start to the actual send
	// Check results: checks CheckBase..CheckBase+CheckN-1 of the collector's
	// check names; bit i of CheckPass set when check CheckBase+i passed.
	CheckBase int
	CheckN    int
	CheckPass uint32
}

// tagKeys are the tags a sub-metric selector may name.
var tagKeys = map[string]bool{
	"scenario": true, "name": true, "tenant": true, "status": true,
	"method": true, "expected_response": true, "cold": true,
}

// tagValue returns the value of tag key on s.
func (c *Collector) tagValue(s *Sample, key string) string {
	switch key {
	case "scenario", "name":
		return c.scenarios[s.Scenario]
	case "tenant":
		return c.tenants[s.Tenant]
	case "status":
		return strconv.Itoa(s.Status)
	case "method":
		return s.Method
	case "expected_response":
		return strconv.FormatBool(!s.Failed)
	case "cold":
		return strconv.FormatBool(s.Cold)
	}
	return ""
}

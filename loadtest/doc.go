// Package loadtest is a k6-style load harness for tenantgate.
//
// It provisions tenants (through the admin API or the tenantgate CLI), mints
// their tokens, and drives a weighted mix of tenant API requests with one of
// four k6 executors: constant-arrival-rate (the default, open model),
// ramping-arrival-rate, constant-vus and ramping-vus. Latencies are kept in
// HDR histograms. Arrival-rate executors measure every request from its
// scheduled start, so a stalled server cannot hide its queue (no coordinated
// omission); iterations that find no free VU are counted as
// dropped_iterations.
//
// After the run, thresholds written in k6 syntax are evaluated, a summary in
// the shape of k6's end-of-test summary is printed, and the results can be
// exported as k6 handleSummary JSON or a self-contained HTML report.
// cmd/loadtest is the binary.
package loadtest

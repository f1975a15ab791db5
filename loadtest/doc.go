// Package loadtest is a k6-style load harness for tenantgate: the runner.
//
// A run drives a Workload (scenarios and the tenants they target) with
// one of k6's executors (loadtest/executor: constant-arrival-rate, the
// default open model, ramping-arrival-rate, constant-vus, ramping-vus).
// Arrival-rate executors measure every request from its scheduled start,
// so a stalled server cannot hide its queue (no coordinated omission);
// iterations that find no free VU are counted as dropped_iterations.
//
// The layout follows k6's:
//   - loadtest/executor: one type per executor, registered by name;
//   - loadtest/metrics: samples, HDR-histogram aggregates, the collector
//     with sub-metrics by tag, and thresholds in k6 syntax;
//   - loadtest/output: the end-of-test summary, the handleSummary JSON
//     export and the HTML report;
//   - loadtest/microfi: the MicroFi workload (tenant API and SQL
//     scenarios), tenant provisioning and tokens, currencies from
//     shard/bank, and spawning a tenantgate.
//
// cmd/loadtest is the binary.
package loadtest

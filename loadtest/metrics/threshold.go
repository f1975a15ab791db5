package metrics

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Threshold is one pass/fail criterion in k6 syntax, e.g.
// http_req_duration{scenario:transfer}:p(95)<100.
type Threshold struct {
	Metric         string        // canonical metric or sub-metric name
	Source         string        // the expression as written, e.g. "p(95)<100"
	Agg            string        // aggregation: avg, min, med, max, p(N), count, rate, value
	Op             string        // <, <=, >, >=, ==, ===, !=
	Value          float64       // right-hand side (milliseconds for trends)
	AbortOnFail    bool          // stop the run as soon as the threshold fails
	DelayAbortEval time.Duration // do not abort before this much of the run has passed
}

var exprRe = regexp.MustCompile(`^\s*(avg|min|max|med|count|rate|value|p\(\s*\d+(?:\.\d+)?\s*\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$`)

// validAggs lists the aggregations k6 allows per metric type.
var validAggs = map[MetricType]func(string) bool{
	TypeTrend: func(a string) bool {
		return a == "avg" || a == "min" || a == "max" || a == "med" || strings.HasPrefix(a, "p(")
	},
	TypeCounter: func(a string) bool { return a == "count" || a == "rate" },
	TypeRate:    func(a string) bool { return a == "rate" },
	TypeGauge:   func(a string) bool { return a == "value" || a == "min" || a == "max" },
}

// ParseThreshold parses one --threshold flag value:
//
//	METRIC[{tag:value,...}]:EXPR[,abortOnFail[=true|false]][,delayAbortEval=DURATION]
//	METRIC[{tag:value,...}]:{"threshold":EXPR,"abortOnFail":true,"delayAbortEval":"10s"}
//
// EXPR is k6's "aggregation operator value", e.g. p(95)<100 or rate<0.01.
func ParseThreshold(s string) (Threshold, error) {
	var th Threshold
	metricPart, rest, err := splitMetric(s)
	if err != nil {
		return th, err
	}
	base, sel, err := parseMetricName(metricPart)
	if err != nil {
		return th, err
	}
	th.Metric = base
	if len(sel) > 0 {
		th.Metric = subMetricName(base, sel)
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "{") {
		var obj struct {
			Threshold      string `json:"threshold"`
			AbortOnFail    bool   `json:"abortOnFail"`
			DelayAbortEval string `json:"delayAbortEval"`
		}
		if err := json.Unmarshal([]byte(rest), &obj); err != nil {
			return th, fmt.Errorf("threshold %q: bad object: %w", s, err)
		}
		th.Source, th.AbortOnFail = obj.Threshold, obj.AbortOnFail
		if obj.DelayAbortEval != "" {
			if th.DelayAbortEval, err = time.ParseDuration(obj.DelayAbortEval); err != nil {
				return th, fmt.Errorf("threshold %q: delayAbortEval: %w", s, err)
			}
		}
	} else {
		parts := strings.Split(rest, ",")
		th.Source = parts[0]
		for _, opt := range parts[1:] {
			k, v, hasV := strings.Cut(strings.TrimSpace(opt), "=")
			switch k {
			case "abortOnFail":
				th.AbortOnFail = true
				if hasV {
					if th.AbortOnFail, err = strconv.ParseBool(v); err != nil {
						return th, fmt.Errorf("threshold %q: abortOnFail: %w", s, err)
					}
				}
			case "delayAbortEval":
				if th.DelayAbortEval, err = time.ParseDuration(v); err != nil {
					return th, fmt.Errorf("threshold %q: delayAbortEval: %w", s, err)
				}
			default:
				return th, fmt.Errorf("threshold %q: unknown option %q (want abortOnFail or delayAbortEval=DURATION)", s, k)
			}
		}
	}
	th.Source = strings.TrimSpace(th.Source)
	m := exprRe.FindStringSubmatch(th.Source)
	if m == nil {
		return th, fmt.Errorf("threshold %q: expression %q is not \"aggregation operator number\" (e.g. p(95)<100, rate<0.01)", s, th.Source)
	}
	th.Agg = strings.ReplaceAll(m[1], " ", "")
	th.Op = m[2]
	th.Value, _ = strconv.ParseFloat(m[3], 64) // the regexp admits only numbers
	if strings.HasPrefix(th.Agg, "p(") {
		if _, ok := parsePercentileKey(th.Agg); !ok {
			return th, fmt.Errorf("threshold %q: percentile out of range 0..100", s)
		}
	}
	return th, nil
}

// splitMetric splits "metric{a:b}:expr" at the first colon outside braces.
func splitMetric(s string) (metric, rest string, err error) {
	depth := 0
	for i, r := range s {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 {
				if strings.TrimSpace(s[:i]) == "" {
					return "", "", fmt.Errorf("threshold %q: no metric name", s)
				}
				return strings.TrimSpace(s[:i]), s[i+1:], nil
			}
		}
	}
	return "", "", fmt.Errorf("threshold %q: want METRIC:EXPRESSION, e.g. http_req_duration:p(95)<100", s)
}

var metricNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// parseMetricName parses "name" or "name{key:value,key2:value2}" (values may
// be quoted, as k6 allows).
func parseMetricName(s string) (string, []tagSel, error) {
	s = strings.TrimSpace(s)
	base, tags, hasTags := strings.Cut(s, "{")
	base = strings.TrimSpace(base)
	if !metricNameRe.MatchString(base) {
		return "", nil, fmt.Errorf("metric %q: invalid name", s)
	}
	if !hasTags {
		return base, nil, nil
	}
	if !strings.HasSuffix(tags, "}") {
		return "", nil, fmt.Errorf("metric %q: missing closing brace", s)
	}
	tags = strings.TrimSuffix(tags, "}")
	var sel []tagSel
	for _, kv := range strings.Split(tags, ",") {
		k, v, ok := strings.Cut(kv, ":")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if !ok || k == "" || v == "" {
			return "", nil, fmt.Errorf("metric %q: tag %q is not key:value", s, kv)
		}
		if !tagKeys[k] {
			return "", nil, fmt.Errorf("metric %q: unknown tag %q (known: scenario, name, tenant, status, method, expected_response)", s, k)
		}
		sel = append(sel, tagSel{key: k, value: v})
	}
	return base, sel, nil
}

// compare applies th's operator to v.
func (th Threshold) compare(v float64) bool {
	switch th.Op {
	case "<":
		return v < th.Value
	case "<=":
		return v <= th.Value
	case ">":
		return v > th.Value
	case ">=":
		return v >= th.Value
	case "==", "===":
		return v == th.Value
	case "!=":
		return v != th.Value
	}
	return false
}

// ThresholdResult is the outcome of one threshold.
type ThresholdResult struct {
	Threshold
	Observed float64 // the aggregation's value
	OK       bool
}

// Validate checks th against the collector's metrics and registers its
// sub-metric.
func (c *Collector) Validate(th Threshold) error {
	base, _, _ := parseMetricName(th.Metric)
	t, ok := c.MetricType(base)
	if !ok {
		return fmt.Errorf("threshold on unknown metric %q", base)
	}
	if !validAggs[t](th.Agg) {
		return fmt.Errorf("threshold %s:%s: aggregation %q does not apply to %s metric %s", th.Metric, th.Source, th.Agg, t, base)
	}
	if th.Metric != base {
		return c.AddSubMetric(th.Metric)
	}
	return nil
}

// Evaluate evaluates thresholds against the current aggregates.
func (c *Collector) Evaluate(ths []Threshold) []ThresholdResult {
	out := make([]ThresholdResult, len(ths))
	for i, th := range ths {
		v, _ := c.Value(th.Metric, th.Agg)
		out[i] = ThresholdResult{Threshold: th, Observed: v, OK: th.compare(v)}
	}
	return out
}

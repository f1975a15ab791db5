package metrics

import (
	"math"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// MetricType is the k6 metric type: trend, counter, rate or gauge.
type MetricType string

// The k6 metric types.
const (
	TypeTrend   MetricType = "trend"
	TypeCounter MetricType = "counter"
	TypeRate    MetricType = "rate"
	TypeGauge   MetricType = "gauge"
)

// Histogram bounds: values are recorded in microseconds, from 1 µs to 60 s.
const (
	histLowestMicros  = 1
	histHighestMicros = 60_000_000
)

// Agg aggregates one metric (or sub-metric) of any type. Trends keep an HDR
// histogram for percentiles plus exact count, sum, min and max; counters a
// sum; rates passes (non-zero values) and fails; gauges the last, min and max
// value. An Agg is not safe for concurrent use; the Collector locks.
type Agg struct {
	Type     MetricType
	hist     *hdr.Histogram
	count    int64
	sum      float64 // trend: microseconds; counter: units
	min, max float64
	passes   int64
	fails    int64
	value    float64
}

// newAgg returns an empty aggregate of type t. sigfigs is the HDR precision
// (significant decimal digits) for trends.
func newAgg(t MetricType, sigfigs int) *Agg {
	a := &Agg{Type: t, min: math.Inf(1), max: math.Inf(-1)}
	if t == TypeTrend {
		a.hist = hdr.New(histLowestMicros, histHighestMicros, sigfigs)
	}
	return a
}

// AddDuration records one trend value.
func (a *Agg) AddDuration(d time.Duration) {
	us := d.Microseconds()
	if us < histLowestMicros {
		us = histLowestMicros
	}
	if us > histHighestMicros {
		us = histHighestMicros
	}
	_ = a.hist.RecordValue(us) // cannot fail: clamped to the histogram's range
	v := float64(d) / float64(time.Microsecond)
	a.count++
	a.sum += v
	a.min = math.Min(a.min, v)
	a.max = math.Max(a.max, v)
}

// AddCount adds n to a counter.
func (a *Agg) AddCount(n float64) {
	a.count++
	a.sum += n
}

// AddRate records one rate sample; nonZero counts as a pass, as in k6.
func (a *Agg) AddRate(nonZero bool) {
	if nonZero {
		a.passes++
	} else {
		a.fails++
	}
}

// SetGauge records the gauge's current value.
func (a *Agg) SetGauge(v float64) {
	a.value = v
	a.count++
	a.min = math.Min(a.min, v)
	a.max = math.Max(a.max, v)
}

// Count is the number of samples (trend), the sum (counter), the number of
// rate samples, or the number of gauge updates.
func (a *Agg) Count() float64 {
	switch a.Type {
	case TypeCounter:
		return a.sum
	case TypeRate:
		return float64(a.passes + a.fails)
	}
	return float64(a.count)
}

// Rate is the share of non-zero samples of a rate metric (0 when empty).
func (a *Agg) Rate() float64 {
	n := a.passes + a.fails
	if n == 0 {
		return 0
	}
	return float64(a.passes) / float64(n)
}

// Percentile returns the p-th percentile of a trend, in milliseconds.
func (a *Agg) Percentile(p float64) float64 {
	if a.hist == nil || a.count == 0 {
		return 0
	}
	if p >= 100 {
		return a.max / 1000
	}
	v := float64(a.hist.ValueAtPercentile(p))
	// The histogram answers with its bucket's upper edge; never report more
	// than the exact maximum or less than the exact minimum.
	v = math.Max(math.Min(v, a.max), a.min)
	return v / 1000
}

// Value returns one aggregation of the metric, named as in k6 (avg, min, med,
// max, p(N), count, rate, value, passes, fails); durations in milliseconds.
// elapsed turns counters into per-second rates. ok is false when the
// aggregation does not exist for this metric type.
func (a *Agg) Value(key string, elapsed time.Duration) (v float64, ok bool) {
	switch a.Type {
	case TypeTrend:
		switch key {
		case "avg":
			if a.count == 0 {
				return 0, true
			}
			return a.sum / float64(a.count) / 1000, true
		case "min":
			if a.count == 0 {
				return 0, true
			}
			return a.min / 1000, true
		case "max":
			if a.count == 0 {
				return 0, true
			}
			return a.max / 1000, true
		case "med":
			return a.Percentile(50), true
		case "count":
			return float64(a.count), true
		}
		if p, ok := parsePercentileKey(key); ok {
			return a.Percentile(p), true
		}
	case TypeCounter:
		switch key {
		case "count":
			return a.sum, true
		case "rate":
			if elapsed <= 0 {
				return 0, true
			}
			return a.sum / elapsed.Seconds(), true
		}
	case TypeRate:
		switch key {
		case "rate":
			return a.Rate(), true
		case "passes":
			return float64(a.passes), true
		case "fails":
			return float64(a.fails), true
		}
	case TypeGauge:
		switch key {
		case "value":
			return a.value, true
		case "min":
			if a.count == 0 {
				return 0, true
			}
			return a.min, true
		case "max":
			if a.count == 0 {
				return 0, true
			}
			return a.max, true
		}
	}
	return 0, false
}

// Values returns the aggregations k6 puts in handleSummary data for this
// metric type; trendStats lists the trend keys (e.g. avg, p(95)).
func (a *Agg) Values(trendStats []string, elapsed time.Duration) map[string]float64 {
	keys := map[MetricType][]string{
		TypeTrend:   trendStats,
		TypeCounter: {"count", "rate"},
		TypeRate:    {"rate", "passes", "fails"},
		TypeGauge:   {"value", "min", "max"},
	}[a.Type]
	out := make(map[string]float64, len(keys))
	for _, k := range keys {
		if v, ok := a.Value(k, elapsed); ok {
			out[k] = v
		}
	}
	return out
}

// parsePercentileKey parses "p(95)" or "p(99.9)".
func parsePercentileKey(key string) (float64, bool) {
	if len(key) < 4 || key[:2] != "p(" || key[len(key)-1] != ')' {
		return 0, false
	}
	p, err := strconv.ParseFloat(key[2:len(key)-1], 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}

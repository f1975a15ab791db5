package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatMs renders a duration given in milliseconds the way k6 does:
// 512.3µs, 1.23ms, 2.5s.
func FormatMs(ms float64) string {
	switch {
	case ms < 1:
		return FormatFloat(ms*1000) + "µs"
	case ms < 1000:
		return FormatFloat(ms) + "ms"
	default:
		return FormatFloat(ms/1000) + "s"
	}
}

// FormatFloat prints v with two decimals, dropping trailing zeros.
func FormatFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// FormatBytes renders a byte count in SI units, as k6 does (kB, MB).
func FormatBytes(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

// FormatPct renders a ratio as a percentage with two decimals.
func FormatPct(r float64) string { return fmt.Sprintf("%.2f%%", 100*r) }

// FormatRate renders a per-second rate.
func FormatRate(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) + "/s" }

// FormatClock renders a duration as k6 does in its progress bar: 0m12.0s.
func FormatClock(d time.Duration) string {
	m := int(d.Minutes())
	s := d.Seconds() - float64(m*60)
	return fmt.Sprintf("%dm%04.1fs", m, s)
}

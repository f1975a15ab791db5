package loadtest

import (
	"fmt"
	"strconv"
	"strings"
)

// fmtMs renders a duration given in milliseconds the way k6 does:
// 512.3µs, 1.23ms, 2.5s.
func fmtMs(ms float64) string {
	switch {
	case ms < 1:
		return trimFloat(ms*1000) + "µs"
	case ms < 1000:
		return trimFloat(ms) + "ms"
	default:
		return trimFloat(ms/1000) + "s"
	}
}

// trimFloat prints v with two decimals, dropping trailing zeros.
func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// fmtBytes renders a byte count in SI units, as k6 does (kB, MB).
func fmtBytes(b float64) string {
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

// fmtPct renders a ratio as a percentage with two decimals.
func fmtPct(r float64) string { return fmt.Sprintf("%.2f%%", 100*r) }

// fmtRate renders a per-second rate.
func fmtRate(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) + "/s" }

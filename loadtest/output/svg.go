package output

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/microfi/tenantgate/loadtest/metrics"
)

// chartSeries is one line of a chart.
type chartSeries struct {
	Name  string
	Color string
	Y     []float64
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// svgLineChart renders an inline SVG line chart of series over x (seconds).
func svgLineChart(title, unit string, x []float64, series []chartSeries) string {
	const w, h, ml, mr, mt, mb = 900.0, 280.0, 64.0, 150.0, 30.0, 36.0
	pw, ph := w-ml-mr, h-mt-mb
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14" font-weight="bold">%s</text>`, ml, html.EscapeString(title))
	xmax := 1.0
	if len(x) > 0 {
		xmax = math.Max(x[len(x)-1], 1)
	}
	ymax := 0.0
	for _, s := range series {
		for _, y := range s.Y {
			ymax = math.Max(ymax, y)
		}
	}
	// 10% headroom: a line at the series' maximum (a flat "allocated VUs"
	// line, say) is drawn inside the plot, not on its top border.
	ymax = niceCeil(ymax * 1.1)
	px := func(v float64) float64 { return ml + pw*v/xmax }
	py := func(v float64) float64 { return mt + ph - ph*v/ymax }
	// grid and axes
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, ml, y, ml+pw, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>`, ml-6, y+4, html.EscapeString(axisLabel(v, unit)))
	}
	xstep := niceCeil(xmax / 10)
	for v := 0.0; v <= xmax+1e-9; v += xstep {
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, x, mt, x, mt+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%ss</text>`, x, mt+ph+16, metrics.FormatFloat(v))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`, ml, mt, pw, ph)
	for i, s := range series {
		if len(s.Y) > 0 {
			var pts []string
			for j, y := range s.Y {
				if j < len(x) {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x[j]), py(y)))
				}
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, s.Color, strings.Join(pts, " "))
		}
		ly := mt + 14 + float64(i)*18
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`, ml+pw+12, ly-4, ml+pw+32, ly-4, s.Color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12">%s</text>`, ml+pw+38, ly, html.EscapeString(s.Name))
	}
	// Hover values: one transparent band per sample with a native tooltip
	// (<title>) listing every series there; no script, so the report stays
	// self-contained and works under a strict Content-Security-Policy.
	b.WriteString(`<style>.hv{fill:transparent}.hv:hover{fill:rgba(0,0,0,.07)}</style>`)
	for j := range x {
		left, right := ml, ml+pw
		if j > 0 {
			left = (px(x[j-1]) + px(x[j])) / 2
		}
		if j+1 < len(x) {
			right = (px(x[j]) + px(x[j+1])) / 2
		}
		var tip strings.Builder
		fmt.Fprintf(&tip, "%ss", metrics.FormatFloat(math.Round(x[j]*10)/10))
		for _, s := range series {
			if j < len(s.Y) {
				fmt.Fprintf(&tip, "\n%s: %s", s.Name, valueLabel(s.Y[j], unit))
			}
		}
		fmt.Fprintf(&b, `<rect class="hv" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
			left, mt, math.Max(right-left, 1), ph, html.EscapeString(tip.String()))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// valueLabel renders a hovered value: milliseconds as k6 prints them,
// other values with at most two decimals.
func valueLabel(v float64, unit string) string {
	if unit == "ms" {
		return metrics.FormatMs(v)
	}
	return metrics.FormatFloat(math.Round(v*100)/100) + unit
}

// axisLabel renders a y-axis value; milliseconds switch to µs or s as k6 does.
func axisLabel(v float64, unit string) string {
	if unit == "ms" && v > 0 {
		return metrics.FormatMs(v)
	}
	return metrics.FormatFloat(v) + unit
}

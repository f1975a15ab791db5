package output

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The VU chart's flat "allocated" line sits inside the plot, not on its top
// border, and every sample has hover values.
func TestChartHeadroomAndHover(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	svg := svgLineChart("virtual users", "", x, []chartSeries{
		{"busy VUs", "#0969da", []float64{3, 7, 12.5, 4}},
		{"allocated", "#999999", []float64{50, 50, 50, 50}},
	})
	// The plot's top border is the frame rect's y.
	frame := regexp.MustCompile(`<rect x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="[0-9.]+" fill="none"`).FindStringSubmatch(svg)
	lines := regexp.MustCompile(`<polyline [^>]*points="([^"]+)"`).FindAllStringSubmatch(svg, -1)
	if frame == nil || len(lines) != 2 {
		t.Fatalf("chart structure: %s", svg)
	}
	top, _ := strconv.ParseFloat(frame[1], 64)
	for _, pt := range strings.Fields(lines[1][1]) {
		y, _ := strconv.ParseFloat(strings.Split(pt, ",")[1], 64)
		if y <= top+5 {
			t.Errorf("allocated line at y=%.1f, on the plot's top border (%.1f)", y, top)
		}
	}
	titles := regexp.MustCompile(`<rect class="hv"[^>]*><title>([^<]*)</title>`).FindAllStringSubmatch(svg, -1)
	if len(titles) != len(x) {
		t.Fatalf("%d hover targets for %d samples", len(titles), len(x))
	}
	if got := titles[2][1]; got != "3s\nbusy VUs: 12.5\nallocated: 50" {
		t.Errorf("hover text %q", got)
	}
}

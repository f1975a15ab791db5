package loadtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Mix is a weighted choice among scenarios.
type Mix struct {
	Names   []string  // the workload's scenario names
	Weights []float64 // indexed like Names
	cum     []float64
	total   float64
}

// ParseMix parses "name=weight,..." over the scenario names; scenarios not
// named get weight 0, so a scenario is switched off by leaving it out or
// giving it 0.
func ParseMix(names []string, s string) (Mix, error) {
	m := Mix{Names: names, Weights: make([]float64, len(names))}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("mix %q: %q is not name=weight", s, part)
		}
		idx := slices.Index(names, strings.TrimSpace(name))
		if idx < 0 {
			return m, fmt.Errorf("mix %q: unknown scenario %q (known: %s)", s, name, strings.Join(names, ", "))
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil || f < 0 {
			return m, fmt.Errorf("mix %q: weight of %s must be a number >= 0", s, name)
		}
		m.Weights[idx] = f
	}
	m.cum = make([]float64, len(m.Weights))
	for i, w := range m.Weights {
		m.total += w
		m.cum[i] = m.total
	}
	if m.total <= 0 {
		return m, fmt.Errorf("mix %q: all weights are zero", s)
	}
	return m, nil
}

// Enabled reports whether scenario i has a non-zero weight.
func (m Mix) Enabled(i int) bool { return m.Weights[i] > 0 }

// pick chooses a scenario index.
func (m Mix) pick(r *rand.Rand) int {
	x := r.Float64() * m.total
	for i, c := range m.cum {
		if x < c {
			return i
		}
	}
	return len(m.cum) - 1
}

// String renders the mix as percentages of the enabled scenarios.
func (m Mix) String() string {
	var parts []string
	for i, w := range m.Weights {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s %.4g%%", m.Names[i], 100*w/m.total))
		}
	}
	return strings.Join(parts, ", ")
}

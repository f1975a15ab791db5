package loadtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// DefaultMix is the default scenario mix (weights, any scale). Login is rare
// on purpose: it hashes a password, which is CPU-bound by design, and real
// sessions log in once per many requests.
const DefaultMix = "list_accounts=40,get_account=25,deposit=10,transfer=10,sql_read=14.5,login=0.5"

// Mix is a weighted choice among scenarios.
type Mix struct {
	Weights []float64 // indexed like Scenarios
	cum     []float64
	total   float64
}

// ParseMix parses "name=weight,..."; scenarios not named get weight 0, so a
// scenario is switched off by leaving it out or giving it 0.
func ParseMix(s string) (Mix, error) {
	m := Mix{Weights: make([]float64, len(Scenarios))}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("mix %q: %q is not name=weight", s, part)
		}
		idx := scenarioIndex(strings.TrimSpace(name))
		if idx < 0 {
			return m, fmt.Errorf("mix %q: unknown scenario %q (known: %s)", s, name, strings.Join(ScenarioNames(), ", "))
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
			parts = append(parts, fmt.Sprintf("%s %.4g%%", Scenarios[i].Name, 100*w/m.total))
		}
	}
	return strings.Join(parts, ", ")
}

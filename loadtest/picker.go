package loadtest

import (
	"fmt"
	"math/rand/v2"
)

// TenantPicker chooses the tenant for each iteration.
type TenantPicker struct {
	n     int
	perVU bool // each VU keeps one tenant: VU i serves tenant i mod n
	zipf  bool
	s, v  float64
	perm  []int // zipf rank → tenant index, so the hot tenant is not always the first
}

// PerVU is the distribution in which each VU keeps one tenant (VU i serves
// tenant i mod n), for scenarios that hold a session with their tenant.
const PerVU = "per-vu"

// NewTenantPicker returns a picker over n tenants. dist is "uniform",
// "zipf" (with exponent s > 1 and offset v >= 1, as math/rand/v2.NewZipf)
// or PerVU.
func NewTenantPicker(n int, dist string, s, v float64, seed uint64) (*TenantPicker, error) {
	if n <= 0 {
		return nil, fmt.Errorf("tenant picker: no tenants")
	}
	p := &TenantPicker{n: n}
	switch dist {
	case "", "uniform":
	case PerVU:
		p.perVU = true
	case "zipf":
		if s <= 1 || v < 1 {
			return nil, fmt.Errorf("tenant picker: zipf needs s > 1 and v >= 1 (got s=%g v=%g)", s, v)
		}
		p.zipf, p.s, p.v = true, s, v
		p.perm = rand.New(rand.NewPCG(seed, 7)).Perm(n)
	default:
		return nil, fmt.Errorf("tenant picker: unknown distribution %q (want uniform, zipf or %s)", dist, PerVU)
	}
	return p, nil
}

// forVU returns a pick function for one VU, using the VU's own generator
// (math/rand generators are not safe for concurrent use).
func (p *TenantPicker) forVU(id int, r *rand.Rand) func() int {
	if p.perVU {
		t := id % p.n
		return func() int { return t }
	}
	if !p.zipf || p.n == 1 {
		return func() int { return r.IntN(p.n) }
	}
	z := rand.NewZipf(r, p.s, p.v, uint64(p.n-1))
	return func() int { return p.perm[z.Uint64()] }
}

// Zipf reports whether the picker follows a Zipf distribution.
func (p *TenantPicker) Zipf() bool { return p.zipf }

// S and V are the Zipf exponent and offset (see NewTenantPicker).
func (p *TenantPicker) S() float64 { return p.s }
func (p *TenantPicker) V() float64 { return p.v }

package loadtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Tenant is one provisioned tenant as the harness sees it.
type Tenant struct {
	ID           int64   // catalog id (the tokens' tenant_id)
	Sub          string  // host label, e.g. lt3fa2-00001
	Host         string  // full Host header, e.g. lt3fa2-00001.microfi.localhost
	Token        string  // token for the API scenarios (role staff)
	ServiceToken string  // token for SQL over Hrana (role service)
	AdminToken   string  // token used during setup (role admin)
	UserID       int64   // the staff user that logs in
	Email        string  // login e-mail of that user
	Password     string  // login password of that user
	Accounts     []int64 // account ids, all funded

	authz, svcAuthz []byte // "Bearer <token>" header values
}

// clientAddr is the address the harness claims for this tenant's users
// (10.0.0.0/8, one per tenant), sent as X-Forwarded-For.
func (t *Tenant) clientAddr() string {
	return "10." + strconv.FormatInt(t.ID>>16&255, 10) + "." + strconv.FormatInt(t.ID>>8&255, 10) + "." + strconv.FormatInt(t.ID&255, 10)
}

// prepare precomputes the tenant's header values.
func (t *Tenant) prepare() {
	t.authz = []byte("Bearer " + t.Token)
	t.svcAuthz = []byte("Bearer " + t.ServiceToken)
}

// TenantPicker chooses the tenant for each iteration.
type TenantPicker struct {
	n    int
	zipf bool
	s, v float64
	perm []int // zipf rank → tenant index, so the hot tenant is not always the first
}

// NewTenantPicker returns a picker over n tenants. dist is "uniform" or
// "zipf" (with exponent s > 1 and offset v >= 1, as math/rand/v2.NewZipf).
func NewTenantPicker(n int, dist string, s, v float64, seed uint64) (*TenantPicker, error) {
	if n <= 0 {
		return nil, fmt.Errorf("tenant picker: no tenants")
	}
	p := &TenantPicker{n: n}
	switch dist {
	case "", "uniform":
	case "zipf":
		if s <= 1 || v < 1 {
			return nil, fmt.Errorf("tenant picker: zipf needs s > 1 and v >= 1 (got s=%g v=%g)", s, v)
		}
		p.zipf, p.s, p.v = true, s, v
		p.perm = rand.New(rand.NewPCG(seed, 7)).Perm(n)
	default:
		return nil, fmt.Errorf("tenant picker: unknown distribution %q (want uniform or zipf)", dist)
	}
	return p, nil
}

// forVU returns a pick function for one VU, using the VU's own generator
// (math/rand generators are not safe for concurrent use).
func (p *TenantPicker) forVU(r *rand.Rand) func() int {
	if !p.zipf || p.n == 1 {
		return func() int { return r.IntN(p.n) }
	}
	z := rand.NewZipf(r, p.s, p.v, uint64(p.n-1))
	return func() int { return p.perm[z.Uint64()] }
}

package loadtest

import (
	"math/rand/v2"

	"github.com/valyala/fasthttp"
)

// VU is one virtual user: a goroutine's private state, reused across its
// iterations.
type VU struct {
	ID     int
	rng    *rand.Rand
	tenant func() int
	req    *fasthttp.Request
	resp   *fasthttp.Response
	buf    []byte
}

// account picks one of t's accounts.
func (v *VU) account(t *Tenant) int64 {
	return t.Accounts[v.rng.IntN(len(t.Accounts))]
}

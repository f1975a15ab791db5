package loadtest

import (
	"math/rand/v2"

	"github.com/valyala/fasthttp"
)

// VU is one virtual user: a goroutine's private state, reused across its
// iterations.
type VU struct {
	ID  int
	Rng *rand.Rand // the VU's own generator (not safe to share)
	Buf []byte     // scratch space for building requests
	// Session is state a scenario carries from one of the VU's iterations
	// to the next (Scenario.After), e.g. an SQL stream's baton.
	Session []byte

	tenant func() int
	req    *fasthttp.Request
	resp   *fasthttp.Response
}

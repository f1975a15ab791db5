package loadtest

import (
	"time"

	"github.com/valyala/fasthttp"
)

// Scenario is one kind of request in the mix.
type Scenario struct {
	Name   string
	Method string
	Checks []string // check names, in the order of the bits Check returns
	// Build fills req for target t (an index into Workload.Targets); it
	// must not allocate on the hot path beyond what fasthttp's buffers
	// reuse.
	Build func(v *VU, t int, req *fasthttp.Request)
	// Check returns bit i set when check i passed.
	Check func(status int, body []byte) uint32
	// After, if set, sees each response before the VU's next iteration,
	// to carry session state between a VU's iterations (VU.Session).
	After func(v *VU, t int, status int, body []byte)
	// Think, if set, is the pause after an iteration before the VU's
	// next (k6's sleep()): a client's pace, or its back-off after a 429.
	Think func(status int) time.Duration
}

// Workload is what a run drives: the scenarios, and the targets (tenants)
// they run against. loadtest/microfi builds MicroFi's.
type Workload struct {
	Scenarios []Scenario
	Targets   []string // each target's tag value (the tenant label)
}

// ScenarioNames lists the scenario names in index order.
func (w Workload) ScenarioNames() []string {
	out := make([]string, len(w.Scenarios))
	for i, s := range w.Scenarios {
		out[i] = s.Name
	}
	return out
}

// checkNames lists every scenario's checks, and the index of each
// scenario's first check in that list.
func (w Workload) checkNames() (names []string, base []int) {
	for _, s := range w.Scenarios {
		base = append(base, len(names))
		names = append(names, s.Checks...)
	}
	return names, base
}

// Bit is check i's bit when ok.
func Bit(ok bool, i uint) uint32 {
	if ok {
		return 1 << i
	}
	return 0
}

var (
	strAuthz = []byte("Authorization")
	strJSON  = []byte("application/json")
)

// SetRequest resets req and sets method, Host, path and the Authorization
// header value (none when authz is empty).
func SetRequest(req *fasthttp.Request, method []byte, host string, path []byte, authz []byte) {
	req.Reset()
	req.Header.SetMethodBytes(method)
	req.Header.SetRequestURIBytes(path)
	req.Header.SetHost(host)
	if len(authz) > 0 {
		req.Header.SetBytesKV(strAuthz, authz)
	}
}

// SetJSONBody sets b as req's JSON body.
func SetJSONBody(req *fasthttp.Request, b []byte) {
	req.Header.SetContentTypeBytes(strJSON)
	req.SetBody(b)
}

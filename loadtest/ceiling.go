package loadtest

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/metrics"
	"github.com/valyala/fasthttp"
)

// MeasureCeiling measures the harness's own ceiling: the request rate it
// reaches against a trivial in-process endpoint on loopback with vus
// looping VUs for d. The endpoint shares the machine (and this process), so
// the figure is a conservative bound on what the harness can generate.
func MeasureCeiling(ctx context.Context, d time.Duration, vus int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("self-ceiling: %w", err)
	}
	body := []byte(`{"accounts":[]}`)
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/json")
		c.SetBody(body)
	}}
	go srv.Serve(ln) //nolint:errcheck // stops with Shutdown
	defer srv.Shutdown()
	w := Workload{Targets: []string{"ceiling"}, Scenarios: []Scenario{ceilingScenario}}
	mix, _ := ParseMix(w.ScenarioNames(), "ceiling=1")
	res, err := Run(ctx, RunConfig{
		BaseURL:  "http://" + ln.Addr().String(),
		Workload: w,
		Mix:      mix,
		Executor: executor.Config{Kind: executor.ConstantVUs, VUs: vus, Duration: d, GracefulStop: time.Second},
		Timeout:  5 * time.Second,
	})
	if err != nil {
		return 0, fmt.Errorf("self-ceiling: %w", err)
	}
	return res.Throughput(), nil
}

// CeilingWarnings compares a run with the harness's ceiling and returns
// warnings when the harness may have limited the result.
func CeilingWarnings(r *Result, ceiling float64) []string {
	var w []string
	got := r.Throughput()
	if ceiling > 0 {
		if got >= 0.5*ceiling {
			w = append(w, fmt.Sprintf("the target handled %.0f req/s, %.0f%% of the harness's own ceiling (~%.0f req/s against a trivial endpoint on this machine): the load generator, not the target, may be the limit", got, 100*got/ceiling, ceiling))
		}
		if want := r.Executor.PeakRate(); want > 0.8*ceiling {
			w = append(w, fmt.Sprintf("the requested rate (%.0f/s) is above 80%% of the harness's ceiling (~%.0f req/s)", want, ceiling))
		}
	}
	if d, _ := r.Collector.Value(metrics.MetricDropped, "count"); d > 0 {
		w = append(w, fmt.Sprintf("%.0f iterations were dropped: no free VU at their scheduled start (raise --max-vus, or the target/harness is saturated)", d))
	}
	if p99, _ := r.Collector.Value(metrics.MetricStartDelay, "p(99)"); p99 > 5 {
		w = append(w, fmt.Sprintf("iterations started late (iteration_start_delay p(99)=%s): latencies include the harness's own scheduling delay", metrics.FormatMs(p99)))
	}
	return w
}

// ceilingScenario is a bearer-token GET of a small JSON body, the shape of
// the cheapest tenant API call.
var ceilingScenario = Scenario{
	Name: "ceiling", Method: "GET", Checks: []string{"ceiling status is 200"},
	Build: func(v *VU, t int, req *fasthttp.Request) {
		SetRequest(req, ceilingGET, "ceiling.localhost", ceilingPath, ceilingAuthz)
	},
	Check: func(st int, b []byte) uint32 { return Bit(st == 200, 0) },
}

var ceilingGET, ceilingPath, ceilingAuthz = []byte("GET"), []byte("/api/accounts"), []byte("Bearer x")

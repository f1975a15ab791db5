package loadtest

import (
	"context"
	"fmt"
	"net"
	"time"

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
	mix, _ := ParseMix("list_accounts=1")
	res, err := Run(ctx, RunConfig{
		BaseURL:  "http://" + ln.Addr().String(),
		Tenants:  []*Tenant{{ID: 1, Sub: "ceiling", Host: "ceiling.localhost", Token: "x", Accounts: []int64{1}}},
		Mix:      mix,
		Executor: ExecutorConfig{Kind: ConstantVUs, VUs: vus, Duration: d, GracefulStop: time.Second},
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
		ec := r.Config.Executor
		want := ec.Rate
		if ec.Kind == RampingArrivalRate {
			want = ec.maxTarget(ec.StartRate)
		}
		if ec.isArrival() {
			want = want / ec.TimeUnit.Seconds()
			if want > 0.8*ceiling {
				w = append(w, fmt.Sprintf("the requested rate (%.0f/s) is above 80%% of the harness's ceiling (~%.0f req/s)", want, ceiling))
			}
		}
	}
	if d, _ := r.Collector.Value(MetricDropped, "count"); d > 0 {
		w = append(w, fmt.Sprintf("%.0f iterations were dropped: no free VU at their scheduled start (raise --max-vus, or the target/harness is saturated)", d))
	}
	if p99, _ := r.Collector.Value(MetricStartDelay, "p(99)"); p99 > 5 {
		w = append(w, fmt.Sprintf("iterations started late (iteration_start_delay p(99)=%s): latencies include the harness's own scheduling delay", fmtMs(p99)))
	}
	return w
}

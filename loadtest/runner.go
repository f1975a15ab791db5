package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/metrics"
	"github.com/valyala/fasthttp"
)

// RunConfig is everything one measured run needs.
type RunConfig struct {
	BaseURL    string   // e.g. http://127.0.0.1:8080; Host headers come from the workload
	Workload   Workload // scenarios and targets (loadtest/microfi)
	Mix        Mix      // weights over Workload.Scenarios
	Picker     *TenantPicker
	Executor   executor.Config
	Thresholds []metrics.Threshold
	Timeout    time.Duration // per request; default 10s
	Seed       uint64        // random seed (0: time-based)
	// Cold splits the request metrics by the server's "cold" answer
	// (Server-Timing: tenant-db;desc=cold, from tenantgate serve
	// --server-timing): http_req_duration{cold:true} and {cold:false},
	// http_reqs{cold:true}. The --profile cold scenario sets it.
	Cold bool

	TargetPID int // the target's process id, when local, to report its CPU use

	Progress         io.Writer     // live progress line; nil for none
	ProgressTTY      bool          // rewrite one line (\r) instead of printing lines
	ProgressInterval time.Duration // default 1s
}

// Result is the outcome of a run.
type Result struct {
	Config      RunConfig
	Executor    executor.Executor // the load shape that ran
	Collector   *metrics.Collector
	Thresholds  []metrics.ThresholdResult
	Aborted     bool // stopped early (abortOnFail or cancelled)
	AbortReason string
	Elapsed     time.Duration
	Errors      map[string]int64 // transport errors by message
	Statuses    map[int]int64    // responses by status (0: no response)
	SelfCeiling float64          // harness ceiling in req/s, when measured
	Warnings    []string

	HarnessCPU time.Duration // CPU the harness used during the run
	TargetCPU  time.Duration // CPU the target used during the run (0: unknown)
	LoadAvg    [2]float64    // 1-minute load average before and after the run
	Cores      int           // CPUs available to this process
}

// ThresholdsOK reports whether every threshold passed.
func (r *Result) ThresholdsOK() bool {
	for _, t := range r.Thresholds {
		if !t.OK {
			return false
		}
	}
	return true
}

// Throughput is the completed request rate over the run (req/s).
func (r *Result) Throughput() float64 {
	v, _ := r.Collector.Value(metrics.MetricReqs, "rate")
	return v
}

type runner struct {
	cfg       RunConfig
	exec      executor.Executor
	col       *metrics.Collector
	client    *fasthttp.HostClient
	env       *executor.Env
	busy      atomic.Int64 // VUs inside an iteration
	checkBase []int
	nextVU    int
	seed      uint64
	mu        sync.Mutex
	errs      map[string]int64
	statuses  map[int]int64
}

// NewRunCollector builds the collector for cfg and registers the
// thresholds' sub-metrics (and a per-scenario duration sub-metric for each
// enabled scenario). It fails on an invalid threshold.
func NewRunCollector(cfg *RunConfig) (*metrics.Collector, error) {
	checks, _ := cfg.Workload.checkNames()
	col := metrics.NewCollector(cfg.Workload.ScenarioNames(), cfg.Workload.Targets, checks)
	if err := col.AddSubMetric(metrics.MetricReqDuration + "{expected_response:true}"); err != nil {
		return nil, err
	}
	for i, s := range cfg.Workload.Scenarios {
		if cfg.Mix.Enabled(i) {
			if err := col.AddSubMetric(metrics.MetricReqDuration + "{scenario:" + s.Name + "}"); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Cold {
		for _, sub := range ColdSubMetrics {
			if err := col.AddSubMetric(sub); err != nil {
				return nil, err
			}
		}
	}
	for _, th := range cfg.Thresholds {
		if err := col.Validate(th); err != nil {
			return nil, err
		}
	}
	return col, nil
}

// Run executes the load described by cfg and returns the aggregated result.
// Cancelling ctx stops the run early (the result is still complete).
func Run(ctx context.Context, cfg RunConfig) (*Result, error) {
	if len(cfg.Workload.Targets) == 0 {
		return nil, errors.New("run: no tenants")
	}
	ex, err := executor.New(cfg.Executor)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = time.Second
	}
	if cfg.Picker == nil {
		p, err := NewTenantPicker(len(cfg.Workload.Targets), "uniform", 0, 0, 1)
		if err != nil {
			return nil, err
		}
		cfg.Picker = p
	}
	col, err := NewRunCollector(&cfg)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	client, bytesCount, err := newClient(cfg.BaseURL, ex.MaxVUs()+8, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	defer client.CloseIdleConnections()
	r := &runner{cfg: cfg, exec: ex, col: col, client: client, errs: map[string]int64{}, statuses: map[int]int64{}, seed: cfg.Seed}
	if r.seed == 0 {
		r.seed = uint64(time.Now().UnixNano())
	}
	_, r.checkBase = cfg.Workload.checkNames()
	r.env = &executor.Env{NewVU: r.newVU, Dropped: col.Dropped}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &Result{Config: cfg, Executor: ex, Collector: col, Errors: r.errs, Statuses: r.statuses}

	cpu0 := selfCPU()
	var tcpu0 time.Duration
	if cfg.TargetPID > 0 {
		tcpu0, _ = ProcessCPU(cfg.TargetPID)
	}
	res.LoadAvg[0] = loadAverage()
	res.Cores = runtime.NumCPU()
	start := time.Now()
	col.Start(start)
	tickDone := make(chan struct{})
	tickStop := make(chan struct{})
	go r.tick(runCtx, cancel, start, bytesCount, res, tickStop, tickDone)
	ex.Run(runCtx, r.env, start)
	close(tickStop)
	<-tickDone
	end := time.Now()
	res.HarnessCPU = selfCPU() - cpu0
	if cfg.TargetPID > 0 {
		if c, err := ProcessCPU(cfg.TargetPID); err == nil {
			res.TargetCPU = c - tcpu0
		}
	}
	res.LoadAvg[1] = loadAverage()
	r.finalTick(end, bytesCount)
	col.Freeze(end)
	res.Elapsed = end.Sub(start)
	if !res.Aborted && ctx.Err() != nil {
		res.Aborted, res.AbortReason = true, "interrupted"
	}
	res.Thresholds = col.Evaluate(cfg.Thresholds)
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Errors, res.Statuses = copyMap(r.errs), copyMap(r.statuses)
	return res, nil
}

func copyMap[K comparable](m map[K]int64) map[K]int64 {
	out := make(map[K]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// newVU makes a VU and returns its iteration function.
func (r *runner) newVU() executor.Iteration {
	r.mu.Lock()
	id := r.nextVU
	r.nextVU++
	r.mu.Unlock()
	rng := rand.New(rand.NewPCG(r.seed, uint64(id)+1))
	vu := &VU{
		ID:     id,
		Rng:    rng,
		Buf:    make([]byte, 0, 512),
		tenant: r.cfg.Picker.forVU(id, rng),
		req:    &fasthttp.Request{},
		resp:   &fasthttp.Response{},
	}
	return func(scheduled time.Time) { r.iterate(vu, scheduled) }
}

// iterate runs one iteration: one request of a scenario picked from the mix
// for a tenant picked by the distribution. Its duration counts from the
// scheduled start, so queueing inside the harness or the server shows.
func (r *runner) iterate(vu *VU, scheduled time.Time) {
	r.busy.Add(1)
	defer r.busy.Add(-1)
	sc := r.cfg.Mix.pick(vu.Rng)
	ti := vu.tenant()
	def := &r.cfg.Workload.Scenarios[sc]
	def.Build(vu, ti, vu.req)
	sent := time.Now()
	err := r.client.DoDeadline(vu.req, vu.resp, sent.Add(r.cfg.Timeout))
	end := time.Now()
	s := metrics.Sample{
		Scenario:  sc,
		Tenant:    ti,
		Method:    def.Method,
		Duration:  end.Sub(scheduled),
		Delay:     sent.Sub(scheduled),
		CheckBase: r.checkBase[sc],
		CheckN:    len(def.Checks),
	}
	if err == nil {
		s.Status = vu.resp.StatusCode()
		s.CheckPass = def.Check(s.Status, vu.resp.Body())
		s.Cold = r.cfg.Cold && isCold(vu.resp.Header.PeekBytes(headerServerTiming))
	}
	s.Failed = err != nil || s.Status < 200 || s.Status >= 400
	r.col.Add(&s)
	if err != nil || s.Failed {
		r.mu.Lock()
		r.statuses[s.Status]++
		if err != nil && len(r.errs) < 20 {
			r.errs[err.Error()]++
		} else if err != nil {
			r.errs["other errors"]++
		}
		r.mu.Unlock()
	} else {
		r.mu.Lock()
		r.statuses[s.Status]++
		r.mu.Unlock()
	}
	if def.After != nil {
		var body []byte
		if err == nil {
			body = vu.resp.Body()
		}
		def.After(vu, ti, s.Status, body)
	}
	if def.Think != nil {
		if d := def.Think(s.Status); d > 0 {
			time.Sleep(d)
		}
	}
}

// tick closes a time-series interval every ProgressInterval, prints the
// progress line and evaluates abortOnFail thresholds.
func (r *runner) tick(ctx context.Context, cancel context.CancelFunc, start time.Time, bc *byteCounter, res *Result, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	var aborters []metrics.Threshold
	for _, th := range r.cfg.Thresholds {
		if th.AbortOnFail {
			aborters = append(aborters, th)
		}
	}
	n := 0
	for {
		select {
		case <-stop:
			if r.cfg.Progress != nil && r.cfg.ProgressTTY {
				fmt.Fprintln(r.cfg.Progress)
			}
			return
		case <-ctx.Done():
			<-stop
			if r.cfg.Progress != nil && r.cfg.ProgressTTY {
				fmt.Fprintln(r.cfg.Progress)
			}
			return
		case now := <-t.C:
			n++
			p := r.finalTick(now, bc)
			if r.cfg.Progress != nil && (r.cfg.ProgressTTY || n%5 == 0) {
				r.printProgress(now.Sub(start), p)
			}
			elapsed := now.Sub(start)
			for _, res1 := range r.col.Evaluate(aborters) {
				if !res1.OK && elapsed >= res1.DelayAbortEval {
					res.Aborted = true
					res.AbortReason = fmt.Sprintf("threshold %s:%s crossed (abortOnFail)", res1.Metric, res1.Source)
					cancel()
				}
			}
		}
	}
}

func (r *runner) finalTick(now time.Time, bc *byteCounter) metrics.Point {
	s, rc := bc.sent.Load(), bc.received.Load()
	r.col.SetData(s, rc)
	r.col.SetVUs(int(r.busy.Load()), int(r.env.Allocated.Load()))
	return r.col.Tick(now)
}

func (r *runner) printProgress(elapsed time.Duration, p metrics.Point) {
	planned := r.exec.PlannedDuration()
	pct := 100 * elapsed.Seconds() / planned.Seconds()
	if pct > 100 {
		pct = 100
	}
	reqs, _ := r.col.Value(metrics.MetricReqs, "count")
	dropped, _ := r.col.Value(metrics.MetricDropped, "count")
	failed, _ := r.col.Value(metrics.MetricReqFailed, "passes")
	line := fmt.Sprintf("running (%s/%s) %s [%3.0f%%]  %.0f reqs (%.0f/s now)  %.0f failed  %.0f dropped  p95=%s p99=%s (last %s)  VUs %d/%d",
		metrics.FormatClock(elapsed), metrics.FormatClock(planned), r.exec.Kind(), pct, reqs, float64(p.Reqs)/r.cfg.ProgressInterval.Seconds(),
		failed, dropped, metrics.FormatMs(p.P95), metrics.FormatMs(p.P99), r.cfg.ProgressInterval, p.VUs, p.VUsMax)
	if r.cfg.ProgressTTY {
		fmt.Fprintf(r.cfg.Progress, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(r.cfg.Progress, line)
	}
}

// sortedKeys returns m's keys sorted.
func sortedKeys[K int | string](m map[K]int64) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// DescribeErrors renders transport errors and failed statuses briefly.
func (r *Result) DescribeErrors() string {
	var parts []string
	for _, st := range sortedKeys(r.Statuses) {
		if st >= 200 && st < 400 {
			continue
		}
		label := fmt.Sprint(st)
		if st == 0 {
			label = "no response"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", label, r.Statuses[st]))
	}
	for _, e := range sortedKeys(r.Errors) {
		parts = append(parts, fmt.Sprintf("%q ×%d", e, r.Errors[e]))
	}
	return strings.Join(parts, ", ")
}

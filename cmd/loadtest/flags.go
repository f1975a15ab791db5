package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/microfi"
)

// Exit codes, following k6 where it has one.
const (
	exitOK               = 0
	exitError            = 1
	exitUsage            = 2
	exitThresholdsFailed = 99 // k6's ThresholdsHaveFailed
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Options holds the parsed command line.
type Options struct {
	Target     string
	Spawn      bool
	SpawnFloor bool
	ProxyBin   string
	ProxyArgs  multiFlag
	KeepData   bool
	Cleanup    bool
	DataDir    string
	RootDomain string
	JWTSecret  string

	Executor     string
	Rate         float64
	StartRate    float64
	TimeUnit     time.Duration
	Duration     time.Duration
	VUs          int
	MaxVUs       int
	Stages       string
	GracefulStop time.Duration
	Timeout      time.Duration

	Tenants         int
	TenantPrefix    string
	SeedData        string
	UsersPerTenant  int
	AccountsPerUser int
	SetupWorkers    int
	TenantsFile     string

	Mix        string
	TenantDist string
	ZipfS      float64
	ZipfV      float64
	Seed       uint64

	Thresholds    multiFlag
	SummaryExport string
	Report        string
	SelfCeiling   time.Duration
	Quiet         bool
	CPUProfile    string
	Profile       string

	distSet, setupSet bool // --tenant-dist, --setup-concurrency given explicitly

	Noisy         int
	NoisyPatterns string
	NoisyCPUVUs   int
	NoisyQuota    int64
	NoisyLead     time.Duration
	noise         []string // parsed NoisyPatterns

	vusSet, mixSet bool // flags given explicitly
}

func newFlagSet(o *Options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Target, "target", "", "base URL of a running proxy, e.g. http://127.0.0.1:8080")
	fs.BoolVar(&o.Spawn, "spawn", false, "build ./cmd/tenantgate and run it on a fresh temporary data dir for this test")
	fs.BoolVar(&o.SpawnFloor, "spawn-floor", false, "run against the physical-floor server (fasthttp + SQLite point reads) instead of the proxy")
	fs.StringVar(&o.ProxyBin, "proxy-bin", "", "prebuilt tenantgate binary for --spawn (and the CLI fallback with --target)")
	fs.Var(&o.ProxyArgs, "proxy-arg", "extra `FLAG` for the spawned tenantgate serve (repeatable), e.g. --proxy-arg=--max-open-tenants=1000")
	fs.BoolVar(&o.KeepData, "keep-data", false, "keep the spawned proxy's temporary data dir (and its log)")
	fs.BoolVar(&o.Cleanup, "cleanup", true, "with --target: delete the tenants this run provisioned when it ends (tenants saved to or reused from --tenants-file are kept)")
	fs.StringVar(&o.DataDir, "data-dir", "", "with --target: the proxy's data dir (JWT key from jwt.secret, CLI fallback)")
	fs.StringVar(&o.RootDomain, "root-domain", "microfi.localhost", "the proxy's root domain (tenant hosts are <host>.<root>)")
	fs.StringVar(&o.JWTSecret, "jwt-secret", "", "the proxy's HS256 key for minting tokens (default: <data-dir>/jwt.secret)")

	fs.StringVar(&o.Executor, "executor", executor.ConstantArrivalRate, "constant-arrival-rate, ramping-arrival-rate, constant-vus or ramping-vus")
	fs.Float64Var(&o.Rate, "rate", 500, "constant-arrival-rate: iterations (requests) per --time-unit")
	fs.Float64Var(&o.StartRate, "start-rate", 0, "ramping-arrival-rate: rate at the start")
	fs.DurationVar(&o.TimeUnit, "time-unit", time.Second, "unit of --rate, --start-rate and arrival-rate stage targets")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "constant-* executors: test duration")
	fs.IntVar(&o.VUs, "vus", 50, "arrival-rate: pre-allocated VUs; constant-vus: VUs; ramping-vus: start VUs")
	fs.IntVar(&o.MaxVUs, "max-vus", 1000, "arrival-rate: most VUs (iterations beyond are dropped_iterations)")
	fs.StringVar(&o.Stages, "stages", "", "ramping executors: DURATION:TARGET,… e.g. 10s:500,30s:2000,10s:0")
	fs.DurationVar(&o.GracefulStop, "graceful-stop", 10*time.Second, "time in-flight iterations get to finish after the end")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")

	fs.IntVar(&o.Tenants, "tenants", 100, "tenants to provision and spread the load over")
	fs.StringVar(&o.TenantPrefix, "tenant-prefix", "", "host prefix of provisioned tenants (default lt<random>-)")
	fs.StringVar(&o.SeedData, "seed-data", microfi.SeedAuto, "how users/accounts are created: api, bulk (one admin-API seed call per tenant) or auto (api up to 10 tenants; beyond, the first tenant via the API and the rest in bulk with its password hash)")
	fs.IntVar(&o.UsersPerTenant, "users-per-tenant", 2, "customers per tenant (plus one staff user that logs in)")
	fs.IntVar(&o.AccountsPerUser, "accounts-per-user", 2, "accounts per customer (savings, current)")
	fs.IntVar(&o.SetupWorkers, "setup-concurrency", 8, "parallel setup requests")
	fs.StringVar(&o.TenantsFile, "tenants-file", "", "with --target: reuse the tenants saved in this file (its first --tenants), or provision and save them there")

	fs.StringVar(&o.Mix, "mix", microfi.DefaultMix, "scenario weights; a scenario left out or weighted 0 is off")
	fs.StringVar(&o.TenantDist, "tenant-dist", "uniform", "tenant choice: uniform, zipf (hot tenants) or per-vu (VU i keeps tenant i mod N)")
	fs.Float64Var(&o.ZipfS, "zipf-s", 1.2, "zipf exponent s (> 1; larger = hotter head)")
	fs.Float64Var(&o.ZipfV, "zipf-v", 1, "zipf offset v (>= 1)")
	fs.Uint64Var(&o.Seed, "seed", 0, "random seed for the mix and tenant choice (0: from the clock)")

	fs.Var(&o.Thresholds, "threshold", "k6 threshold METRIC[{tag:value}]:EXPR[,abortOnFail][,delayAbortEval=10s] (repeatable), e.g. 'http_req_duration:p(95)<100'")
	fs.StringVar(&o.SummaryExport, "summary-export", "", "write the summary as k6 handleSummary JSON to this file")
	fs.StringVar(&o.Report, "report", "", "write a self-contained HTML report to this file")
	fs.DurationVar(&o.SelfCeiling, "self-ceiling", 2*time.Second, "measure the harness's own ceiling against a trivial endpoint for this long first (0: skip)")
	fs.BoolVar(&o.Quiet, "quiet", false, "no live progress line")
	fs.StringVar(&o.CPUProfile, "cpu-profile", "", "write a pprof CPU profile of the harness itself (self-ceiling and run) to this file")

	fs.IntVar(&o.Noisy, "noisy", 0, "noisy-neighbour test: the first N tenants misbehave (--noisy-patterns) while the others run the mix; the mix runs first alone, then beside the noise, and the summary compares the two")
	fs.StringVar(&o.NoisyPatterns, "noisy-patterns", strings.Join(microfi.NoisePatterns, ","), "what the noisy tenants do: cpu (endless SQL over Hrana), write (1 MiB blobs up to the quota), snapshot (a transaction held open with keepalives), login (a wrong-password login flood), api (32 concurrent API calls, pages of 200 transactions, as fast as answered)")
	fs.IntVar(&o.NoisyCPUVUs, "noisy-cpu-vus", microfi.NoiseVUsPerTenant(microfi.NoiseCPU), "concurrent CPU-bound statements per noisy tenant")
	fs.Int64Var(&o.NoisyQuota, "noisy-quota", 32<<20, "storage quota (bytes) set on the noisy tenants through the admin API before the run, so the writers meet it (0: leave their plan's)")
	fs.DurationVar(&o.NoisyLead, "noisy-lead", 2*time.Second, "how long the noise runs before the victims' second run starts")
	fs.StringVar(&o.Profile, "profile", "", "a preset scenario: cold = the arrival rate spread uniformly over more tenants than stay open, latency reported apart for requests that opened their tenant's database (http_req_duration{cold:true}; the target must run with --server-timing, which --spawn passes, with --max-open-tenants a quarter of --tenants unless given), default mix without logins")
	return fs
}

// executorConfig turns the flags into an executor configuration.
func (o *Options) executorConfig() (executor.Config, error) {
	c := executor.Config{
		Kind: o.Executor, Rate: o.Rate, StartRate: o.StartRate, TimeUnit: o.TimeUnit,
		Duration: o.Duration, VUs: o.VUs, MaxVUs: o.MaxVUs, GracefulStop: o.GracefulStop,
	}
	if o.Stages != "" {
		st, err := executor.ParseStages(o.Stages)
		if err != nil {
			return c, err
		}
		c.Stages = st
	}
	if c.Kind == executor.RampingVUs && o.VUs == 50 && !o.vusSet {
		c.VUs = 1 // k6's default startVUs
	}
	if _, err := executor.New(c); err != nil {
		return c, err
	}
	return c, nil
}

func (o *Options) validate() error {
	n := 0
	for _, b := range []bool{o.Target != "", o.Spawn, o.SpawnFloor} {
		if b {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of --target URL, --spawn or --spawn-floor")
	}
	if o.Tenants <= 0 {
		return fmt.Errorf("--tenants must be > 0")
	}
	if o.Noisy < 0 || o.Noisy > 0 && o.Noisy >= o.Tenants {
		return fmt.Errorf("--noisy must be >= 0 and leave at least one of the --tenants as a victim")
	}
	if o.Noisy > 0 && o.SpawnFloor {
		return fmt.Errorf("--noisy needs the proxy (--spawn or --target), not --spawn-floor")
	}
	if o.Noisy > 0 {
		ps, err := microfi.ParseNoisePatterns(o.NoisyPatterns)
		if err != nil {
			return fmt.Errorf("--noisy-patterns: %w", err)
		}
		o.noise = ps
		if o.NoisyCPUVUs <= 0 {
			return fmt.Errorf("--noisy-cpu-vus must be > 0")
		}
		if o.NoisyQuota != 0 && o.NoisyQuota < 1<<20 {
			return fmt.Errorf("--noisy-quota must be 0 or at least 1 MiB")
		}
		if o.Profile != "" {
			return fmt.Errorf("--noisy and --profile are separate tests: give one")
		}
	}
	switch o.Profile {
	case "":
	case ProfileCold:
		if o.SpawnFloor {
			return fmt.Errorf("--profile cold needs tenantgate (--spawn or --target): the floor never opens a database per request")
		}
		if o.Executor != executor.ConstantArrivalRate && o.Executor != executor.RampingArrivalRate {
			return fmt.Errorf("--profile cold drives a fixed rate: use an arrival-rate executor, not %s", o.Executor)
		}
		if o.distSet && o.TenantDist != "uniform" {
			return fmt.Errorf("--profile cold spreads the load uniformly: --tenant-dist %s does not apply", o.TenantDist)
		}
	default:
		return fmt.Errorf("--profile %q: want cold", o.Profile)
	}
	return nil
}

// ProfileCold is --profile cold.
const ProfileCold = "cold"

// coldProxyArgs are the serve flags --spawn adds for --profile cold: cold
// answers marked (--server-timing) and, unless the caller set the cap, a
// quarter of the tenants kept open, so most requests find theirs closed.
func (o *Options) coldProxyArgs() []string {
	args := []string{"--server-timing"}
	for _, a := range o.ProxyArgs {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "max-open-tenants") {
			return args
		}
	}
	return append(args, fmt.Sprintf("--max-open-tenants=%d", o.coldCap()))
}

// coldCap is the open-database cap --spawn gives a cold run.
func (o *Options) coldCap() int { return max(1, o.Tenants/4) }

// coldSetupWorkers keeps a spawned cold run's setup within its cap: each
// seeding request pins its tenant's database, and more of them at once
// than databases may be open would wait for room and fail with 503.
func (o *Options) coldSetupWorkers() int {
	if o.setupSet {
		return o.SetupWorkers
	}
	return min(o.SetupWorkers, max(1, o.coldCap()/2))
}

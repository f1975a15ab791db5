package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/metrics"
	"github.com/microfi/tenantgate/loadtest/microfi"
	"github.com/microfi/tenantgate/loadtest/output"
)

// helpText heads `loadtest --help`.
const helpText = `loadtest: a k6-style load test of tenantgate: provision tenants, drive the API and SQL, report k6-style

Usage:
  loadtest --spawn | --target URL | --spawn-floor [flags]
  loadtest floor --data-dir DIR [flags]

Example:
  loadtest --spawn --tenants 100 --duration 30s --rate 1000 --threshold 'http_req_duration:p(95)<100'

Exit status: 0 ok, 99 a threshold failed (as k6), 1 error, 2 bad flags.

Flags:
`

// Main runs the harness (or `floor`) with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "floor" {
		return floorMain(ctx, args[1:], stdout, stderr)
	}
	var o Options
	fs := newFlagSet(&o, io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// Help is asked for: stdout, exit 0.
			fmt.Fprint(stdout, helpText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintf(stderr, "loadtest: %v (see loadtest --help)\n", err)
		return exitUsage
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "vus":
			o.vusSet = true
		case "mix":
			o.mixSet = true
		case "tenant-dist":
			o.distSet = true
		case "setup-concurrency":
			o.setupSet = true
		}
	})
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadtest: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	cfg, err := o.runConfig()
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitUsage
	}
	code, err := run(ctx, &o, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitError
	}
	return code
}

// runConfig validates the flags into a run configuration (without target
// and tenants, which come from setup).
func (o *Options) runConfig() (loadtest.RunConfig, error) {
	var cfg loadtest.RunConfig
	if err := o.validate(); err != nil {
		return cfg, err
	}
	ec, err := o.executorConfig()
	if err != nil {
		return cfg, err
	}
	if o.SpawnFloor && !o.mixSet {
		o.Mix = "list_accounts=1"
	}
	if o.Profile == ProfileCold && !o.mixSet {
		o.Mix = microfi.NoLoginMix
	}
	mix, err := loadtest.ParseMix(microfi.ScenarioNames(), o.Mix)
	if err != nil {
		return cfg, err
	}
	var ths []metrics.Threshold
	for _, s := range o.Thresholds {
		th, err := metrics.ParseThreshold(s)
		if err != nil {
			return cfg, err
		}
		ths = append(ths, th)
	}
	picker, err := loadtest.NewTenantPicker(o.Tenants, o.TenantDist, o.ZipfS, o.ZipfV, o.Seed)
	if err != nil {
		return cfg, err
	}
	cfg = loadtest.RunConfig{Mix: mix, Executor: ec, Thresholds: ths, Picker: picker, Timeout: o.Timeout, Seed: o.Seed, Cold: o.Profile == ProfileCold}
	// Fail on bad thresholds (unknown metric, aggregation, tag) before any
	// setup work: build a throwaway collector.
	w, err := microfi.Workload([]*microfi.Tenant{{Sub: "x", Accounts: []int64{1}}})
	if err != nil {
		return cfg, err
	}
	cfg.Workload = w
	if _, err := loadtest.NewRunCollector(&cfg); err != nil {
		return cfg, err
	}
	cfg.Workload = loadtest.Workload{}
	return cfg, nil
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// run sets up the target and tenants, measures the harness ceiling, runs
// the test and writes the summary and exports.
func run(ctx context.Context, o *Options, cfg loadtest.RunConfig, stdout, stderr io.Writer) (int, error) {
	logw := stderr
	targetDesc := o.Target
	var tenants []*microfi.Tenant
	switch {
	case o.SpawnFloor:
		fl, err := startFloor(ctx, o, stderr)
		if err != nil {
			return 0, err
		}
		defer fl.stop()
		cfg.BaseURL, tenants = fl.baseURL, fl.tenants
		cfg.TargetPID = fl.cmd.Process.Pid
		targetDesc = cfg.BaseURL + " (spawned physical floor: fasthttp + SQLite point reads)"
	default:
		secret := []byte(o.JWTSecret)
		cliBin, cliDir := o.ProxyBin, o.DataDir
		if o.Spawn {
			extra := []string(o.ProxyArgs)
			if cfg.Cold {
				extra = append(o.coldProxyArgs(), extra...)
				o.SetupWorkers = o.coldSetupWorkers()
			}
			sp, err := microfi.Spawn(ctx, microfi.SpawnOptions{Bin: o.ProxyBin, RootDomain: o.RootDomain, ExtraArgs: extra, KeepData: o.KeepData, Log: logw})
			if err != nil {
				return 0, err
			}
			defer func() {
				if err := sp.Stop(); err != nil {
					fmt.Fprintf(stderr, "loadtest: spawned tenantgate exited: %v\n", err)
				}
			}()
			cfg.BaseURL, secret, cliBin, cliDir = sp.BaseURL, sp.Secret, sp.Bin, sp.DataDir
			cfg.TargetPID = sp.PID()
			// The data dir and log are deleted on exit unless --keep-data,
			// so only point at them when they will still be there.
			targetDesc = fmt.Sprintf("%s (spawned tenantgate, metrics %s; its data dir and log are removed at the end, --keep-data keeps them)", sp.BaseURL, sp.MetricsURL)
			if o.KeepData {
				targetDesc = fmt.Sprintf("%s (spawned tenantgate, metrics %s, data dir %s, log %s)", sp.BaseURL, sp.MetricsURL, sp.DataDir, sp.LogPath)
			}
		} else {
			cfg.BaseURL = strings.TrimRight(o.Target, "/")
			if len(secret) == 0 && o.DataDir != "" {
				b, err := os.ReadFile(filepath.Join(o.DataDir, "jwt.secret"))
				if err != nil {
					return 0, fmt.Errorf("read the JWT key: %w (or pass --jwt-secret)", err)
				}
				secret = []byte(strings.TrimSpace(string(b)))
			}
			if len(secret) == 0 {
				return 0, errors.New("--target needs --jwt-secret or --data-dir (for <data-dir>/jwt.secret)")
			}
			if cliBin != "" && cliDir == "" {
				cliBin = ""
			}
		}
		prefix := o.TenantPrefix
		if prefix == "" {
			b := make([]byte, 2)
			_, _ = rand.Read(b)
			prefix = "lt" + hex.EncodeToString(b) + "-"
		}
		p := &microfi.Provisioner{
			BaseURL: cfg.BaseURL, RootDomain: o.RootDomain, Secret: secret, Prefix: prefix,
			CLIBin: cliBin, CLIDataDir: cliDir, Seed: o.SeedData,
			UsersPerTenant: o.UsersPerTenant, AccountsPerUser: o.AccountsPerUser,
			Concurrency: o.SetupWorkers, TokenTTL: 24 * time.Hour, Log: logw,
		}
		ts, created, err := setupTenants(ctx, o, p, secret, logw)
		if err != nil {
			return 0, err
		}
		tenants = ts
		if o.Noisy > 0 && o.NoisyQuota > 0 && slices.Contains(o.noise, microfi.NoiseWrite) {
			if err := p.SetQuota(ctx, ts[:o.Noisy], o.NoisyQuota); err != nil {
				return 0, err
			}
			fmt.Fprintf(logw, "setup: storage quota of the %d noisy tenants set to %d MiB\n", o.Noisy, o.NoisyQuota>>20)
		}
		// A spawned proxy's whole data dir goes away; on a real target the
		// tenants this run created would otherwise stay in its catalog.
		if created && o.Cleanup && !o.Spawn {
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
				defer cancel()
				n, err := p.Remove(cctx, tenants)
				if err != nil {
					fmt.Fprintf(logw, "cleanup: deleted %d of %d tenants this run created: %v\n", n, len(tenants), err)
					return
				}
				fmt.Fprintf(logw, "cleanup: deleted the %d tenants this run created (--cleanup=false keeps them)\n", n)
			}()
		}
	}

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return 0, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var ceiling float64
	if o.SelfCeiling > 0 {
		c, err := loadtest.MeasureCeiling(ctx, o.SelfCeiling, 64)
		if err != nil {
			return 0, err
		}
		ceiling = c
	}

	var noisy []*microfi.Tenant
	if o.Noisy > 0 {
		// The first N tenants make the noise; the mix runs over the others.
		noisy, tenants = tenants[:o.Noisy], tenants[o.Noisy:]
		picker, err := loadtest.NewTenantPicker(len(tenants), o.TenantDist, o.ZipfS, o.ZipfV, o.Seed)
		if err != nil {
			return 0, err
		}
		cfg.Picker = picker
	}
	w, err := microfi.Workload(tenants)
	if err != nil {
		return 0, err
	}
	cfg.Workload = w
	ec, err := executor.New(cfg.Executor)
	if err != nil {
		return 0, err
	}
	dist := o.TenantDist
	if dist == "zipf" {
		dist = fmt.Sprintf("zipf s=%g v=%g", o.ZipfS, o.ZipfV)
	}
	fmt.Fprintf(stdout, "\n  execution: local\n     target: %s\n    tenants: %d (%s)\n        mix: %s\n", targetDesc, len(cfg.Workload.Targets), dist, cfg.Mix.String())
	fmt.Fprintf(stdout, "  scenarios: (100.00%%) 1 scenario, %d max VUs, %s max duration (incl. graceful stop):\n           * default: %s, gracefulStop: %s\n", ec.MaxVUs(), ec.PlannedDuration()+cfg.Executor.GracefulStop, ec.Describe(), cfg.Executor.GracefulStop)
	if ceiling > 0 {
		fmt.Fprintf(stdout, "  harness ceiling: ~%.0f req/s (64 VUs against a trivial in-process endpoint, %s)\n", ceiling, o.SelfCeiling)
	}

	if !o.Quiet {
		cfg.Progress, cfg.ProgressTTY = stderr, isTTY(stderr)
	}
	if o.Noisy > 0 {
		return runNoisy(ctx, o, cfg, noisy, ceiling, stdout, stderr)
	}
	fmt.Fprintln(stdout)
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return 0, err
	}
	res.SelfCeiling = ceiling
	res.Warnings = loadtest.CeilingWarnings(res, ceiling)
	if cfg.Cold {
		if _, cold, total := loadtest.ColdShare(res.Collector); cold == 0 && total > 0 {
			res.Warnings = append(res.Warnings, "--profile cold: no response said it opened its tenant's database: run the target with tenantgate serve --server-timing (and --max-open-tenants below --tenants)")
		}
	}
	output.WriteSummary(stdout, res)
	if o.SummaryExport != "" {
		if err := output.WriteSummaryJSON(o.SummaryExport, res, isTTY(stdout), isTTY(stderr)); err != nil {
			return 0, err
		}
	}
	if o.Report != "" {
		if err := output.WriteReport(o.Report, res); err != nil {
			return 0, err
		}
	}
	if !res.ThresholdsOK() {
		return exitThresholdsFailed, nil
	}
	return exitOK, nil
}

// setupTenants loads the tenants from --tenants-file when it holds enough
// of them, or provisions them (and saves them there). created reports
// tenants this run made and nobody else will reuse (not saved to a file).
func setupTenants(ctx context.Context, o *Options, p *microfi.Provisioner, secret []byte, logw io.Writer) (ts []*microfi.Tenant, created bool, err error) {
	if o.TenantsFile != "" && !o.Spawn {
		if _, err := os.Stat(o.TenantsFile); err == nil {
			ts, err := microfi.LoadTenants(o.TenantsFile, secret, 24*time.Hour)
			if err != nil {
				return nil, false, err
			}
			if len(ts) < o.Tenants {
				return nil, false, fmt.Errorf("%s holds %d tenants, fewer than --tenants %d", o.TenantsFile, len(ts), o.Tenants)
			}
			fmt.Fprintf(logw, "setup: reusing %d tenants from %s\n", o.Tenants, o.TenantsFile)
			return ts[:o.Tenants], false, nil
		}
	}
	fmt.Fprintf(logw, "setup: provisioning %d tenants on %s …\n", o.Tenants, p.BaseURL)
	ts, err = p.Provision(ctx, o.Tenants)
	if err != nil {
		return nil, false, err
	}
	if o.TenantsFile != "" && !o.Spawn {
		if err := microfi.SaveTenants(o.TenantsFile, ts); err != nil {
			return nil, false, err
		}
		return ts, false, nil
	}
	return ts, true, nil
}

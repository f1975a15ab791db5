package main

import (
	"context"
	"fmt"
	"io"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/microfi"
	"github.com/microfi/tenantgate/loadtest/output"
)

// runNoisy is `loadtest --noisy N`: the victims' mix alone, then beside
// one constant-vus scenario per noise pattern over the noisy tenants; the
// summary is the victims' run beside the noise, followed by the
// comparison and what the noise got.
func runNoisy(ctx context.Context, o *Options, victims loadtest.RunConfig, noisy []*microfi.Tenant, ceiling float64, stdout, stderr io.Writer) (int, error) {
	ex, err := executor.New(victims.Executor)
	if err != nil {
		return 0, err
	}
	var noise []loadtest.RunConfig
	for _, pat := range o.noise {
		w, err := microfi.NoiseWorkload(pat, noisy)
		if err != nil {
			return 0, err
		}
		mix, err := loadtest.ParseMix(w.ScenarioNames(), w.Scenarios[0].Name+"=1")
		if err != nil {
			return 0, err
		}
		picker, err := loadtest.NewTenantPicker(len(noisy), loadtest.PerVU, 0, 0, o.Seed)
		if err != nil {
			return 0, err
		}
		vus := microfi.NoiseVUsPerTenant(pat)
		if pat == microfi.NoiseCPU {
			vus = o.NoisyCPUVUs
		}
		ec := executor.Config{Kind: executor.ConstantVUs, VUs: vus * len(noisy), Duration: o.NoisyLead + ex.PlannedDuration(), GracefulStop: victims.Executor.GracefulStop}
		noise = append(noise, loadtest.RunConfig{
			BaseURL: victims.BaseURL, Workload: w, Mix: mix, Picker: picker, Executor: ec,
			Timeout: victims.Timeout, Seed: victims.Seed, TargetPID: victims.TargetPID,
		})
		fmt.Fprintf(stdout, "           * %s: %d looping VUs (%d per noisy tenant) for %s, after the baseline\n", w.Scenarios[0].Name, ec.VUs, vus, ec.Duration)
	}
	fmt.Fprintf(stdout, "      noisy: %d tenants (%s); the mix runs over the other %d, first alone (baseline), then beside the noise (starting %s after it)\n\n",
		len(noisy), tenantList(noisy), len(victims.Workload.Targets), o.NoisyLead)
	fmt.Fprintf(stderr, "noisy: baseline (the victims alone), then the noise\n")
	res, err := loadtest.RunNoisy(ctx, loadtest.NoisyConfig{Victims: victims, Noise: noise, Lead: o.NoisyLead, Pause: victims.Executor.GracefulStop / 10})
	if err != nil {
		return 0, err
	}
	for _, r := range []*loadtest.Result{res.Baseline, res.Noisy} {
		r.SelfCeiling = ceiling
		r.Warnings = loadtest.CeilingWarnings(r, ceiling)
	}
	fmt.Fprintf(stdout, "  the victims beside the noise:\n")
	output.WriteSummary(stdout, res.Noisy)
	output.WriteNoisy(stdout, res, len(noisy))
	if o.SummaryExport != "" {
		if err := output.WriteNoisySummaryJSON(o.SummaryExport, res, isTTY(stdout), isTTY(stderr)); err != nil {
			return 0, err
		}
	}
	if o.Report != "" {
		if err := output.WriteReport(o.Report, res.Noisy); err != nil {
			return 0, err
		}
	}
	if !res.Noisy.ThresholdsOK() || !res.Baseline.ThresholdsOK() {
		return exitThresholdsFailed, nil
	}
	return exitOK, nil
}

func tenantList(ts []*microfi.Tenant) string {
	if len(ts) > 3 {
		return fmt.Sprintf("%s … %s", ts[0].Sub, ts[len(ts)-1].Sub)
	}
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.Sub
	}
	return s
}

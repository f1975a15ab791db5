package executor_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest/executor"
)

func TestNew(t *testing.T) {
	if got, want := executor.Kinds(), []string{"constant-arrival-rate", "constant-vus", "ramping-arrival-rate", "ramping-vus"}; !slices.Equal(got, want) {
		t.Fatalf("Kinds() = %v, want %v", got, want)
	}
	for _, c := range []struct {
		cfg  executor.Config
		want string // error text; "" = valid
	}{
		{executor.Config{Kind: "open-loop"}, `unknown executor "open-loop"`},
		{executor.Config{Kind: executor.ConstantArrivalRate, Duration: time.Second}, "needs --rate > 0"},
		{executor.Config{Kind: executor.RampingArrivalRate}, "needs --stages"},
		{executor.Config{Kind: executor.ConstantVUs, Duration: time.Second}, "needs --vus > 0"},
		{executor.Config{Kind: executor.RampingVUs}, "needs --stages"},
		{executor.Config{Kind: executor.ConstantVUs, VUs: -1, Duration: time.Second}, "must be >= 0"},
		{executor.Config{Kind: executor.ConstantVUs, VUs: 3, Duration: time.Second}, ""},
	} {
		_, err := executor.New(c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}

// Each executor reports its own shape: no caller switches on the kind.
func TestShapes(t *testing.T) {
	stages := []executor.Stage{{Duration: 2 * time.Second, Target: 50}, {Duration: time.Second, Target: 10}}
	for _, c := range []struct {
		cfg      executor.Config
		planned  time.Duration
		maxVUs   int
		peakRate float64
		describe string
	}{
		{executor.Config{Kind: executor.ConstantArrivalRate, Rate: 120, TimeUnit: time.Minute, Duration: 5 * time.Second, VUs: 2},
			5 * time.Second, 2, 2, "120 iterations/1m0s for 5s (maxVUs: 2-2)"},
		{executor.Config{Kind: executor.RampingArrivalRate, StartRate: 5, Stages: stages, MaxVUs: 9},
			3 * time.Second, 9, 50, "up to 50 iterations/1s over 2 stages for 3s (maxVUs: 1-9)"},
		{executor.Config{Kind: executor.ConstantVUs, VUs: 4, Duration: time.Second}, time.Second, 4, 0, "4 looping VUs for 1s"},
		{executor.Config{Kind: executor.RampingVUs, VUs: 1, Stages: stages}, 3 * time.Second, 50, 0, "up to 50 looping VUs over 2 stages for 3s"},
	} {
		e, err := executor.New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind() != c.cfg.Kind || e.PlannedDuration() != c.planned || e.MaxVUs() != c.maxVUs || e.PeakRate() != c.peakRate || e.Describe() != c.describe {
			t.Errorf("%s: planned %v, max VUs %d, peak %v, %q; want %v, %d, %v, %q",
				c.cfg.Kind, e.PlannedDuration(), e.MaxVUs(), e.PeakRate(), e.Describe(), c.planned, c.maxVUs, c.peakRate, c.describe)
		}
	}
}

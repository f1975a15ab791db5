package main

import "testing"

func TestCPUWeightsFlag(t *testing.T) {
	var f cpuWeightsFlag
	if err := f.Set("enterprise=16, demo=0.5"); err != nil {
		t.Fatal(err)
	}
	if f.weights["enterprise"] != 16 || f.weights["demo"] != 0.5 || f.weights["starter"] != 2 {
		t.Fatalf("weights %v", f.weights)
	}
	for _, bad := range []string{"gold=2", "starter=0", "starter=NaN", "starter", "growth=1e9"} {
		if err := (&cpuWeightsFlag{}).Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
)

// cpuWeightsFlag is --cpu-weights: "PLAN=W,…" (PLAN a plan or demo) on
// top of proxy.DefaultCPUWeights.
type cpuWeightsFlag struct {
	weights map[string]float64
}

func (f *cpuWeightsFlag) String() string { return "" }

func (f *cpuWeightsFlag) Set(v string) error {
	if f.weights == nil {
		f.weights = proxy.DefaultCPUWeights()
	}
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		plan, val, ok := strings.Cut(kv, "=")
		if !ok || (plan != "demo" && !slices.Contains(tenants.Plans, plan)) {
			return fmt.Errorf("%q: want PLAN=WEIGHT with PLAN one of demo, %s", kv, strings.Join(tenants.Plans, ", "))
		}
		w, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(w) || w < 0.01 || w > 1000 {
			return fmt.Errorf("%s=%q: the weight must be a number from 0.01 to 1000", plan, val)
		}
		f.weights[plan] = w
	}
	return nil
}

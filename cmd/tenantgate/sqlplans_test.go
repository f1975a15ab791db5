package main

import (
	"strings"
	"testing"
	"time"
)

func TestSQLPlanLimitsFlag(t *testing.T) {
	var f sqlPlansFlag
	if err := f.Set("growth:streams=100,timeout=3s; enterprise:rows=5,bytes=1048576"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("starter:streams=8"); err != nil {
		t.Fatal(err)
	}
	if g := f.plans["growth"]; g.MaxStreams != 100 || g.StatementTimeout != 3*time.Second {
		t.Errorf("growth = %+v", g)
	}
	if e := f.plans["enterprise"]; e.MaxRowsPerResponse != 5 || e.MaxResponseBytes != 1<<20 || e.MaxStreams != 256 {
		t.Errorf("enterprise = %+v (unset keys keep the default)", e)
	}
	if s := f.plans["starter"]; s.MaxStreams != 8 {
		t.Errorf("starter = %+v", s)
	}
	for _, bad := range []string{"gold:streams=1", "growth", "growth:streams=0", "growth:speed=1", "growth:timeout=-1s", "growth:rows=x"} {
		var f sqlPlansFlag
		if err := f.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), "growth") && !strings.Contains(err.Error(), "gold") {
			t.Errorf("%q: %v does not name the plan", bad, err)
		}
	}
}

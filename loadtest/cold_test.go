package loadtest

import "testing"

func TestIsCold(t *testing.T) {
	for v, want := range map[string]bool{
		"":                              false,
		"tenant-db;desc=cold;dur=1.234": true,
		"cache;desc=hit, tenant-db;desc=cold;dur=0.5": true,
		"db;dur=53": false,
	} {
		if got := isCold([]byte(v)); got != want {
			t.Errorf("isCold(%q) = %v, want %v", v, got, want)
		}
	}
}

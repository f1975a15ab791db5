package shard_test

import (
	"context"
	"os"
	"testing"
)

// The first Provision builds the in-memory template; if that caller's
// context ends mid-build, later provisions must build it again rather than
// inherit the failure.
func TestProvisionAfterCancelledFirst(t *testing.T) {
	m := newManager(t, 8)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Provision(cancelled, 1, ""); err == nil {
		t.Fatal("provision with a cancelled context succeeded")
	}
	if _, err := os.Stat(m.Path(1)); !os.IsNotExist(err) {
		t.Fatalf("failed provision left a file: %v", err)
	}
	mustProvision(t, m, 2)
	h, err := m.Acquire(context.Background(), 2, "")
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
}

package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// A --tenant-rate no refill interval can express is a usage error, not a
// limit that silently never refills or never limits.
func TestServeTenantRateRange(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"NaN", "Inf", "-1", "2e9", "1e-12"} {
		err := Main(context.Background(), &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }},
			[]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--tenant-rate", v})
		var u usageError
		if err == nil || !strings.Contains(err.Error(), "--tenant-rate must be") || !errors.As(err, &u) {
			t.Errorf("--tenant-rate %s: %v, want a usage error", v, err)
		}
	}
}

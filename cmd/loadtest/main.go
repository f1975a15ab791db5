// Command loadtest is tenantgate's k6-style load harness.
//
//	go run ./cmd/loadtest --spawn --tenants 100 --duration 30s --rate 1000 \
//	    --threshold 'http_req_duration:p(95)<100'
//
// It exits 99 when a threshold fails (as k6 does), 1 on errors and 2 on bad
// flags. `loadtest floor` runs the physical-floor server instead.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

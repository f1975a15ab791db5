package proxy

import (
	"context"
	"testing"
	"time"
)

// Shutdown cancels the background context first and then drains in-flight
// requests: their contexts must stay live, or the drained requests fail.
func TestRequestContextOutlivesShutdown(t *testing.T) {
	s := &Server{cfg: Config{RequestTimeout: time.Minute}}
	s.background, s.stop = context.WithCancel(context.Background())
	c, cancel := contextFor(s)
	defer cancel()
	s.stop()
	if err := c.Err(); err != nil {
		t.Fatalf("request context ended with the background context: %v", err)
	}
	if _, ok := c.Deadline(); !ok {
		t.Fatal("request context has no deadline")
	}
}

package hrana

import (
	"fmt"
	"time"
)

// Limits are one tenant's SQL limits, set per subscription plan by the
// proxy (Target.Limits). A zero field takes the Handler's Config value.
type Limits struct {
	// MaxStreams caps the tenant's open streams (HTTP and WebSocket).
	MaxStreams int
	// MaxRowsPerResponse and MaxResponseBytes cap one response (cursors
	// have no row cap). MaxResponseBytes is clamped to the Handler's
	// MaxTotalResponseBytes.
	MaxRowsPerResponse int
	MaxResponseBytes   int
	// StatementTimeout interrupts a statement running longer.
	StatementTimeout time.Duration
	// CPUWeight is the tenant's weight in the fair CPU scheduler (its
	// plan's; <= 0 counts as 1).
	CPUWeight float64
}

// limits fills l's zero fields from the Handler's configuration.
func (h *Handler) limits(l Limits) Limits {
	if l.MaxStreams <= 0 {
		l.MaxStreams = h.cfg.MaxStreamsPerTenant
	}
	if l.MaxRowsPerResponse <= 0 {
		l.MaxRowsPerResponse = h.cfg.MaxRowsPerResponse
	}
	if l.MaxResponseBytes <= 0 {
		l.MaxResponseBytes = h.cfg.MaxResponseBytes
	}
	l.MaxResponseBytes = min(l.MaxResponseBytes, h.cfg.MaxTotalResponseBytes)
	if l.StatementTimeout <= 0 {
		l.StatementTimeout = h.cfg.StatementTimeout
	}
	return l
}

// tooManyStreams says why a new stream was refused at the tenant's cap.
func tooManyStreams(lim Limits) string {
	return fmt.Sprintf("Too many open SQL streams for this tenant (its plan allows %d at once): close idle connections or retry", lim.MaxStreams)
}

package tlsedge

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Handshake results (label values of tenantgate_tls_handshakes_total).
const (
	handshakeFull     = "full"     // a new session: a certificate was chosen
	handshakeResumed  = "resumed"  // a session ticket was accepted
	handshakeRejected = "rejected" // no certificate may exist for the name (unknown, suspended, malformed)
	handshakeFailed   = "failed"   // anything else: client gave up, protocol error, no certificate yet
)

// Order results (label values of tenantgate_certificate_orders_total).
const (
	orderObtained    = "obtained"
	orderRenewed     = "renewed"
	orderFailed      = "failed"
	orderRateLimited = "rate_limited"
)

type metrics struct {
	handshakes *prometheus.CounterVec
	// byResult are the handshake counters, looked up once (a handshake
	// then costs no label hashing).
	byResult map[string]prometheus.Counter
	orders   *prometheus.CounterVec
	expiry   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		handshakes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_tls_handshakes_total",
			Help: "TLS handshakes on the HTTPS listener by result (full, resumed, rejected, failed).",
		}, []string{"result"}),
		orders: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_certificate_orders_total",
			Help: "ACME certificate orders by result (obtained, renewed, failed, rate_limited).",
		}, []string{"result"}),
		expiry: f.NewGauge(prometheus.GaugeOpts{
			Name: "tenantgate_certificate_expiry_seconds",
			Help: "Unix time at which the soonest-expiring certificate in service expires (0 = none yet).",
		}),
	}
	m.byResult = map[string]prometheus.Counter{}
	for _, r := range []string{handshakeFull, handshakeResumed, handshakeRejected, handshakeFailed} {
		m.byResult[r] = m.handshakes.WithLabelValues(r)
	}
	for _, r := range []string{orderObtained, orderRenewed, orderFailed, orderRateLimited} {
		m.orders.WithLabelValues(r)
	}
	return m
}

package tlsedge_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// Certificates that live seconds are renewed before they expire, over
// TLS-ALPN-01 alone (no plain listener), while clients keep connecting and
// no handshake fails.
func TestRenewalBeforeExpiry(t *testing.T) {
	const lifetime = 20 * time.Second
	_, tlsLn := listeners(t, false)
	pb := startPebble(t, pebbleOptions{TLSPort: port(tlsLn), ShortLived: lifetime})
	p := startEdgeProxy(t, t.TempDir(), nil, tlsLn, edgeOptions{TLSALPN01: true, Maintenance: 300 * time.Millisecond, RenewalRatio: 0.75,
		ACME: &tlsedge.ACME{CA: pb.DirectoryURL, Email: "ops@microfi.test", ExtraRoot: pb.CARoot, Profile: "shortlived", DisableARI: true}})
	createTenant(t, p, "renewer", "renew.example")
	roots := pb.Roots()

	// Each request is a new connection and a full handshake (no keep-alive,
	// no session cache), completed with an HTTP exchange.
	client := httpsClient(p.TLSAddr, roots)
	client.Transport.(*http.Transport).DisableKeepAlives = true
	get := func() (*x509.Certificate, error) {
		resp, err := client.Get("https://renew.example/")
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0], nil
	}
	first, err := get()
	if err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	if first.NotAfter.Sub(first.NotBefore) > 2*lifetime {
		t.Fatalf("pebble issued a %v certificate, want ~%v", first.NotAfter.Sub(first.NotBefore), lifetime)
	}
	deadline := first.NotAfter.Add(5 * time.Second)
	for {
		leaf, err := get()
		now := time.Now()
		if err != nil {
			t.Fatalf("handshake failed at %v before the first certificate's expiry: %v", first.NotAfter.Sub(now), err)
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if !now.Before(first.NotAfter) {
				t.Fatalf("renewed certificate first served %v after the old one expired", now.Sub(first.NotAfter))
			}
			if !leaf.NotAfter.After(first.NotAfter) {
				t.Fatalf("renewed certificate ends %v, not after the old %v", leaf.NotAfter, first.NotAfter)
			}
			break
		}
		if now.After(deadline) {
			t.Fatalf("still serving serial %v past its expiry", first.SerialNumber)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if got := metric(t, p.Registry, "tenantgate_certificate_orders_total", "renewed"); got < 1 {
		t.Fatalf("orders renewed = %v", got)
	}
	if got := metric(t, p.Registry, "tenantgate_tls_handshakes_total", "failed"); got != 0 {
		t.Fatalf("%v failed handshakes", got)
	}
	eventually(t, func() bool {
		exp := metric(t, p.Registry, "tenantgate_certificate_expiry_seconds", "")
		return exp > float64(first.NotAfter.Unix())
	}, "expiry gauge moved to the renewed certificate")
	st, err := p.Edge.State(context.Background(), "renew.example")
	if err != nil || st.State != "active" || !st.NotAfter.After(first.NotAfter) {
		t.Fatalf("state after renewal = %+v, %v", st, err)
	}
}

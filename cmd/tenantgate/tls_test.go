package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names into dir and returns
// the cert and key paths and a pool trusting it.
func writeCert(t *testing.T, dir string, names ...string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

// serve with --tls-listen and the operator's wildcard certificate: HTTPS
// answers with HSTS, the plain listener redirects, links say https.
func TestServeTLSWithCertificate(t *testing.T) {
	dataDir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, t.TempDir(), "microfi.test", "*.microfi.test")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready, readyTLS := make(chan string, 1), make(chan string, 1)
	env := &Env{Stdout: out, Stderr: io.Discard, Getenv: func(string) string { return "" },
		Ready: func(listen, _ string) { ready <- listen }, ReadyTLS: func(a string) { readyTLS <- a }}
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, env, []string{"serve", "--data-dir", dataDir, "--root-domain", "microfi.test",
			"--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
			"--tls-cert", certFile, "--tls-key", keyFile, "--redirect-http"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var plain, secure string
	for plain == "" || secure == "" {
		select {
		case plain = <-ready:
		case secure = <-readyTLS:
		case err := <-done:
			t.Fatalf("serve exited: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start")
		}
	}

	d := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext:     func(ctx context.Context, n, _ string) (net.Conn, error) { return d.DialContext(ctx, n, secure) },
		TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}},
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("https://demo.microfi.test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if p := resp.TLS.NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN = %q", p)
	}

	req, _ := http.NewRequest("POST", "http://"+plain+"/api/auth/login", strings.NewReader("{}"))
	req.Host = "demo.microfi.test"
	plainClient := &http.Client{CheckRedirect: client.CheckRedirect}
	resp, err = plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(secure)
	if want := "https://demo.microfi.test:" + port + "/api/auth/login"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Fatalf("plain POST = %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	// TLS 1.1 is refused.
	if _, err := tls.DialWithDialer(d, "tcp", secure, &tls.Config{RootCAs: pool, ServerName: "microfi.test", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "HTTPS on") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "https://demo.microfi.test:"+port) {
		t.Fatalf("banner does not link over HTTPS:\n%s", out.String())
	}
}

func TestServeTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeCert(t, dir, "microfi.test")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--redirect-http"}, "--redirect-http needs --tls-listen"},
		{[]string{"--tls-listen", "127.0.0.1:0"}, "--tls-listen needs --tls-cert"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", certFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--acme-ca", "https://ca.invalid/dir"}, "need --acme-email"},
		{[]string{"--listen", "", "--tls-listen", ""}, "nothing to serve"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--root-domain", "other.test"}, "covers neither"},
	} {
		err := Main(context.Background(), &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }},
			append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, c.args...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
		var u usageError
		if c.want != "covers neither" && !errors.As(err, &u) {
			t.Errorf("%v: %v is not a usage error (exit 2)", c.args, err)
		}
	}
}

// With --acme-email the storage key is created in the data dir, private.
func TestServeACMEStorageKey(t *testing.T) {
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	readyTLS := make(chan string, 1)
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }, ReadyTLS: func(a string) { readyTLS <- a }}
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, env, []string{"serve", "--data-dir", dataDir, "--listen", "", "--tls-listen", "127.0.0.1:0",
			"--metrics-listen", "127.0.0.1:0", "--acme-email", "ops@microfi.test", "--acme-ca", "https://127.0.0.1:1/dir"})
	}()
	select {
	case <-readyTLS:
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dataDir, "tls-storage.key"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() < 32 {
		t.Fatalf("tls-storage.key: %v %v", fi, err)
	}
}

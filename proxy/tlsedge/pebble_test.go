package tlsedge_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pebble is a running Pebble ACME server (Let's Encrypt's test CA) with
// pebble-challtestsrv as its DNS, answering 127.0.0.1 for every name, so
// it validates challenges against the proxy under test on loopback.
type pebble struct {
	DirectoryURL string // ACME directory
	CARoot       []byte // PEM of the certificate Pebble's own HTTPS uses (the --acme-ca-root)
	mgmt         string
	log          *lockedBuffer
	t            testing.TB
}

// pebbleOptions are the proxy ports Pebble validates on and the lifetime
// of its "shortlived" profile.
type pebbleOptions struct {
	HTTPPort, TLSPort int
	ShortLived        time.Duration
}

// toolPath finds a binary installed by `make test-deps` (GOBIN=.tools/bin),
// or on PATH. Without it the test fails in CI and is skipped elsewhere.
func toolPath(t testing.TB, name string) string {
	if dir := os.Getenv("TENANTGATE_TOOLS_BIN"); dir != "" {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
			if fileExists(filepath.Join(d, "go.mod")) {
				if p := filepath.Join(d, ".tools", "bin", name); fileExists(p) {
					return p
				}
				break
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: `make test-deps` installs it into .tools/bin", name)
	}
	t.Skipf("%s not found: run `make test-deps` (installs Pebble into .tools/bin)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPebble runs Pebble and its DNS until the test ends.
func startPebble(t testing.TB, opts pebbleOptions) *pebble {
	t.Helper()
	pebbleBin, challBin := toolPath(t, "pebble"), toolPath(t, "pebble-challtestsrv")
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t, "127.0.0.1")
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600))

	dnsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dns := exec.Command(challBin, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dnsserver", dnsAddr, "-management", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	dnsLog := &lockedBuffer{}
	dns.Stdout, dns.Stderr = dnsLog, dnsLog
	must(t, dns.Start())
	t.Cleanup(func() { dns.Process.Kill(); dns.Wait() })

	listen, mgmt := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Pebble picks a random profile for orders that name none: tests name one.
	profiles := map[string]any{"default": map[string]any{"description": "90 days", "validityPeriod": 7776000}}
	if opts.ShortLived > 0 {
		profiles["shortlived"] = map[string]any{"description": "for renewal tests", "validityPeriod": uint64(opts.ShortLived / time.Second)}
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": filepath.Join(dir, "cert.pem"), "privateKey": filepath.Join(dir, "key.pem"),
		"httpPort": opts.HTTPPort, "tlsPort": opts.TLSPort, "ocspResponderURL": "",
		"keyAlgorithm": "ecdsa",
		"retryAfter":   map[string]int{"authz": 1, "order": 1},
		"profiles":     profiles,
	}}
	b, _ := json.Marshal(cfg)
	must(t, os.WriteFile(filepath.Join(dir, "pebble.json"), b, 0o600))
	cmd := exec.Command(pebbleBin, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	p := &pebble{DirectoryURL: "https://" + listen + "/dir", CARoot: certPEM, mgmt: "https://" + mgmt, log: &lockedBuffer{}, t: t}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := p.client().Get(p.DirectoryURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v\n%s\n%s", err, p.log.String(), dnsLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// client trusts Pebble's own HTTPS certificate.
func (p *pebble) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CARoot)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Roots is the pool of Pebble's issuing root, fetched from its management
// interface (it is generated at every start).
func (p *pebble) Roots() *x509.CertPool {
	p.t.Helper()
	resp, err := p.client().Get(p.mgmt + "/roots/0")
	must(p.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		p.t.Fatalf("pebble root: %q", b)
	}
	return pool
}

// Orders counts the orders Pebble has accepted, from its log.
func (p *pebble) Orders() int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(p.log.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Added order") {
			n++
		}
	}
	return n
}

// selfSigned makes a certificate for host (a name or an IP) valid a day.
func selfSigned(t testing.TB, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ = context.Background

func tlsPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	return tls.X509KeyPair(certPEM, keyPEM)
}

package tlsedge_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/tlsedge"
)

const tlsAlerts = "../../deploy/prometheus/tls_alerts.yml"

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("promtool not found (Debian's prometheus package: make test-deps): %v", err)
	}
	t.Skip("promtool not installed (make test-deps)")
	return ""
}

// The HTTPS alert rules are valid, pass their unit tests, and name only
// series the edge exposes; the edge's metrics pass promtool's lint.
func TestAlertRulesAndMetrics(t *testing.T) {
	tool := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", tlsAlerts},
		{"test", "rules", strings.Replace(tlsAlerts, ".yml", "_test.yml", 1)},
	} {
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	reg := prometheus.NewRegistry()
	cat, err := catalog.Open(context.Background(), "file:"+t.TempDir()+"/catalog.db", catalog.Options{PollInterval: -1})
	must(t, err)
	defer cat.Close()
	cert, key := selfSigned(t, rootDomain, "*."+rootDomain)
	pair, err := tlsPair(cert, key)
	must(t, err)
	e, err := tlsedge.New(tlsedge.Config{RootDomain: rootDomain, Catalog: cat, Certificate: &pair, Registerer: reg})
	must(t, err)
	must(t, e.Start(context.Background()))
	defer e.Close()

	mfs, err := reg.Gather()
	must(t, err)
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	exposed := map[string]bool{}
	for _, mf := range mfs {
		exposed[mf.GetName()] = true
		must(t, enc.Encode(mf))
	}
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = &text
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n%s", err, out, text.String())
	}

	rules, err := os.ReadFile(tlsAlerts)
	must(t, err)
	names := regexp.MustCompile(`\btenantgate_[a-z0-9_]+\b`).FindAllString(string(rules), -1)
	if len(names) < 3 {
		t.Fatalf("only %v in %s", names, tlsAlerts)
	}
	for _, n := range names {
		if !exposed[n] {
			t.Errorf("%s uses %s, which the edge does not expose", tlsAlerts, n)
		}
	}
	// The operator's certificate counts towards the expiry gauge at once.
	if v := metric(t, reg, "tenantgate_certificate_expiry_seconds", ""); v <= 0 {
		t.Fatalf("expiry gauge = %v with a static certificate", v)
	}
}

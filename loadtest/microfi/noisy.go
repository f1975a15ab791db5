package microfi

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/valyala/fasthttp"
)

// Noise patterns of `loadtest --noisy`: the ways a misbehaving tenant hurts
// its neighbours (issue 14). Each runs as its own scenario with its own
// executor beside the victims' mix, as k6 runs several scenarios at once.
const (
	NoiseCPU      = "cpu"      // endless CPU-bound SQL over Hrana, with the service token
	NoiseWrite    = "write"    // 1 MiB blobs written until the storage quota, and on
	NoiseSnapshot = "snapshot" // a transaction (a read snapshot) held open with keepalives
	NoiseLogin    = "login"    // a token-less login flood with wrong passwords from one address
	NoiseAPI      = "api"      // API calls as fast as they are answered, pages of 200 transactions
)

// NoisePatterns lists the patterns in the order they are reported.
var NoisePatterns = []string{NoiseCPU, NoiseWrite, NoiseSnapshot, NoiseLogin, NoiseAPI}

var pathTxPage = []byte("/api/transactions?limit=200")

// noiseBackoff is a noisy VU's pause after a 429. The harness shares the
// machine with the proxy: a tight loop of refusals would measure the
// harness's own CPU, not the proxy's fairness.
const noiseBackoff = 10 * time.Millisecond

// noiseKeepalive is the pace of the held transaction's keepalives.
const noiseKeepalive = time.Second

// attackerAddr is the client address the login flood claims
// (X-Forwarded-For, TEST-NET-1): apart from the victims' 10.0.0.0/8.
const attackerAddr = "192.0.2.66"

var (
	bCPUShare      = []byte("CPU share exceeded")
	bStmtTimeout   = []byte("statement timeout")
	bQuota         = []byte("quota exceeded")
	bSnapshotOld   = []byte("SNAPSHOT_TOO_OLD")
	bStreamExpired = []byte("STREAM_EXPIRED")
	bBatonKey      = []byte(`"baton":"`)

	// endlessSQL never finishes by itself: only the statement timeout or the
	// fair CPU scheduler stops it.
	endlessSQL  = []byte(`{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"}},{"type":"close"}]}`)
	bigWriteSQL = []byte(`{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE IF NOT EXISTS junk(b BLOB)"}},{"type":"execute","stmt":{"sql":"INSERT INTO junk VALUES (randomblob(1048576))"}},{"type":"close"}]}`)
	beginSQL    = []byte(`{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM accounts"}}]}`)
)

// noiseScenario is one noise pattern: a scenario and how a VU runs it.
type noiseScenario struct {
	scenario
	vusPerTenant int
	after        func(v *loadtest.VU, t *Tenant, status int, body []byte)
	think        func(status int) time.Duration
}

func backoff429(status int) time.Duration {
	if status == 429 {
		return noiseBackoff
	}
	return 0
}

// no5xx is every noise scenario's last check: misbehaviour gets 429 or a
// quota error, never a server error.
func no5xx(st int) bool { return st > 0 && st < 500 }

var noiseScenarios = map[string]noiseScenario{
	NoiseCPU: {
		scenario: scenario{
			name: "noisy_cpu", method: "POST",
			checks: []string{"noisy_cpu refused with 429", "noisy_cpu interrupted: CPU share exceeded", "noisy_cpu interrupted: statement timeout", "noisy_cpu no 5xx"},
			build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
				loadtest.SetRequest(req, strPOST, t.Host, pathPipeline, t.svcAuthz)
				loadtest.SetJSONBody(req, endlessSQL)
			},
			check: func(st int, b []byte) uint32 {
				return loadtest.Bit(st == 429, 0) | loadtest.Bit(bytes.Contains(b, bCPUShare), 1) |
					loadtest.Bit(bytes.Contains(b, bStmtTimeout), 2) | loadtest.Bit(no5xx(st), 3)
			},
		},
		vusPerTenant: 32, think: backoff429,
	},
	NoiseWrite: {
		scenario: scenario{
			name: "noisy_write", method: "POST",
			checks: []string{"noisy_write refused with 429", "noisy_write refused: storage quota exceeded", "noisy_write no 5xx"},
			build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
				loadtest.SetRequest(req, strPOST, t.Host, pathPipeline, t.svcAuthz)
				loadtest.SetJSONBody(req, bigWriteSQL)
			},
			check: func(st int, b []byte) uint32 {
				return loadtest.Bit(st == 429, 0) | loadtest.Bit(bytes.Contains(b, bQuota), 1) | loadtest.Bit(no5xx(st), 2)
			},
		},
		vusPerTenant: 2, think: backoff429,
	},
	NoiseSnapshot: {
		scenario: scenario{
			name: "noisy_snapshot", method: "POST",
			checks: []string{"noisy_snapshot cut off: SNAPSHOT_TOO_OLD", "noisy_snapshot stream expired", "noisy_snapshot no 5xx"},
			build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
				loadtest.SetRequest(req, strPOST, t.Host, pathPipeline, t.svcAuthz)
				if len(v.Session) == 0 {
					loadtest.SetJSONBody(req, beginSQL)
					return
				}
				// A keepalive: one more read in the open transaction.
				b := append(v.Buf[:0], `{"baton":"`...)
				b = append(b, v.Session...)
				b = append(b, `","requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM accounts"}}]}`...)
				v.Buf = b
				loadtest.SetJSONBody(req, b)
			},
			check: func(st int, b []byte) uint32 {
				return loadtest.Bit(bytes.Contains(b, bSnapshotOld), 0) | loadtest.Bit(bytes.Contains(b, bStreamExpired), 1) | loadtest.Bit(no5xx(st), 2)
			},
		},
		vusPerTenant: 1,
		after: func(v *loadtest.VU, t *Tenant, st int, b []byte) {
			// Keep the stream while the proxy keeps it; start over when it
			// is cut off or fails.
			v.Session = v.Session[:0]
			if st != 200 || bytes.Contains(b, bErrorType) {
				return
			}
			if i := bytes.Index(b, bBatonKey); i >= 0 {
				rest := b[i+len(bBatonKey):]
				if j := bytes.IndexByte(rest, '"'); j > 0 {
					v.Session = append(v.Session, rest[:j]...)
				}
			}
		},
		think: func(int) time.Duration { return noiseKeepalive },
	},
	NoiseLogin: {
		scenario: scenario{
			name: "noisy_login", method: "POST",
			checks: []string{"noisy_login refused with 429", "noisy_login no 5xx"},
			build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
				loadtest.SetRequest(req, strPOST, t.Host, pathLogin, nil)
				req.Header.Set("X-Forwarded-For", attackerAddr)
				b := append(v.Buf[:0], `{"email":`...)
				b = strconv.AppendQuote(b, t.Email)
				b = append(b, `,"password":"wrong-`...)
				b = strconv.AppendInt(b, v.Rng.Int64N(1e9), 10)
				b = append(b, `"}`...)
				v.Buf = b
				loadtest.SetJSONBody(req, b)
			},
			check: func(st int, b []byte) uint32 { return loadtest.Bit(st == 429, 0) | loadtest.Bit(no5xx(st), 1) },
		},
		vusPerTenant: 4, think: backoff429,
	},
	NoiseAPI: {
		scenario: scenario{
			name: "noisy_api", method: "GET",
			checks: []string{"noisy_api refused with 429", "noisy_api no 5xx"},
			build: func(v *loadtest.VU, t *Tenant, req *fasthttp.Request) {
				loadtest.SetRequest(req, strGET, t.Host, pathTxPage, t.authz)
			},
			check: func(st int, b []byte) uint32 { return loadtest.Bit(st == 429, 0) | loadtest.Bit(no5xx(st), 1) },
		},
		vusPerTenant: 32, think: backoff429,
	},
}

// ParseNoisePatterns parses a comma-separated list of noise patterns.
func ParseNoisePatterns(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, ok := noiseScenarios[p]; !ok {
			return nil, fmt.Errorf("unknown noise pattern %q (known: %s)", p, strings.Join(NoisePatterns, ", "))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no noise pattern in %q", s)
	}
	return out, nil
}

// NoiseVUsPerTenant is how many VUs a pattern runs per noisy tenant by
// default (32 for CPU: the 32 concurrent statements).
func NoiseVUsPerTenant(pattern string) int { return noiseScenarios[pattern].vusPerTenant }

// NoiseWorkload binds one noise pattern to the noisy tenants: a workload of
// a single scenario, meant for a per-VU tenant picker (each VU keeps its
// tenant, so a held transaction stays with its stream).
func NoiseWorkload(pattern string, tenants []*Tenant) (loadtest.Workload, error) {
	ns, ok := noiseScenarios[pattern]
	if !ok {
		return loadtest.Workload{}, fmt.Errorf("unknown noise pattern %q", pattern)
	}
	w := loadtest.Workload{Targets: make([]string, len(tenants))}
	for i, t := range tenants {
		t.prepare()
		w.Targets[i] = t.Sub
	}
	build := ns.build
	sc := loadtest.Scenario{
		Name: ns.name, Method: ns.method, Checks: ns.checks, Check: ns.check, Think: ns.think,
		Build: func(v *loadtest.VU, ti int, req *fasthttp.Request) { build(v, tenants[ti], req) },
	}
	if after := ns.after; after != nil {
		sc.After = func(v *loadtest.VU, ti int, st int, b []byte) { after(v, tenants[ti], st, b) }
	}
	w.Scenarios = []loadtest.Scenario{sc}
	return w, nil
}

// SetQuota sets the storage quota of tenants through the admin API (PATCH
// /api/admin/tenants/{id}), e.g. so that --noisy's writers meet theirs
// within a short run.
func (p *Provisioner) SetQuota(ctx context.Context, tenants []*Tenant, bytes int64) error {
	if p.client == nil {
		c, err := loadtest.NewHostClient(p.BaseURL, 2, 60*time.Second)
		if err != nil {
			return err
		}
		p.client = c
	}
	tok, err := MintToken(p.Secret, 0, 0, "platform_admin", time.Hour)
	if err != nil {
		return err
	}
	body := []byte(`{"storage_quota_bytes":` + strconv.FormatInt(bytes, 10) + `}`)
	for _, t := range tenants {
		st, resp, err := p.do(ctx, "PATCH", "admin."+p.RootDomain, "/api/admin/tenants/"+strconv.FormatInt(t.ID, 10), tok, body)
		if err != nil {
			return fmt.Errorf("set the quota of %s: %w", t.Sub, err)
		}
		if st != 200 {
			return fmt.Errorf("set the quota of %s: admin API: %d %s", t.Sub, st, trimBody(resp))
		}
	}
	return nil
}

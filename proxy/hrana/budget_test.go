package hrana_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// amplification is the pipeline of issue 12: a stored 5,000-character
// statement whose error echoes it, then a batch of steps that each run it.
func amplification(steps int) string {
	stored := "SELECT " + strings.Repeat("x", 4990) // "no such column: xxx…"
	var b strings.Builder
	fmt.Fprintf(&b, `{"requests":[{"type":"store_sql","sql_id":1,"sql":%q},{"type":"batch","batch":{"steps":[`, stored)
	for i := range steps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"stmt":{"sql_id":1}}`)
	}
	b.WriteString(`]}},{"type":"close"}]}`)
	return b.String()
}

// Every byte of a response counts against its cap: error messages that
// echo the SQL included, so no pipeline shape answers with more than the
// cap (it answered 50.7 MB for a 225 KB request).
func TestResponseBudgetCountsErrors(t *testing.T) {
	const limit = 1 << 20
	s := newTestServer(t, hrana.Config{MaxResponseBytes: limit, MaxStatementsPerRequest: 2000})
	r := s.pipeline(amplification(1990))
	if len(r.Raw) > limit {
		t.Fatalf("response %d bytes, over the %d cap", len(r.Raw), limit)
	}
	errs := r.result(t, 1)["response"].(map[string]any)["result"].(map[string]any)["step_errors"].([]any)
	if len(errs) != 1990 {
		t.Fatalf("%d step errors, want 1990", len(errs))
	}
	first, last := errs[0].(map[string]any), errs[len(errs)-1].(map[string]any)
	if !strings.Contains(first["message"].(string), "no such column") || last["code"] != "RESPONSE_TOO_LARGE" {
		t.Fatalf("first %v, last %v: want the SQL error first and RESPONSE_TOO_LARGE once the budget ran out", first["code"], last["code"])
	}
	t.Logf("1,990 echoing steps: %d bytes (cap %d)", len(r.Raw), limit)

	// Column names are charged too.
	cols := `SELECT 1 AS "` + strings.Repeat("c", 4000) + `"`
	r = s.pipeline(fmt.Sprintf(`{"requests":[{"type":"store_sql","sql_id":1,"sql":%q},{"type":"batch","batch":{"steps":[%s]}},{"type":"close"}]}`,
		cols, strings.TrimSuffix(strings.Repeat(`{"stmt":{"sql_id":1}},`, 1000), ",")))
	if len(r.Raw) > limit {
		t.Fatalf("response %d bytes, over the %d cap", len(r.Raw), limit)
	}
}

// More requests and batch steps than MaxStatementsPerRequest: refused
// whole, before anything runs.
func TestPipelineStepLimit(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.do("POST", "/v2/pipeline", amplification(hrana.DefaultMaxStatementsPerRequest))
	if r.Status != 400 || r.Body["code"] != "PROTOCOL_ERROR" || !strings.Contains(r.Raw, "limit 10000") {
		t.Fatalf("10,000 steps + 2 requests: %d %s", r.Status, r.Raw)
	}
}

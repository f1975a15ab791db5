package audit_test

import (
	"strings"
	"testing"

	"github.com/microfi/tenantgate/audit"
)

func chain(n int) []audit.Entry {
	var out []audit.Entry
	var prev *audit.Entry
	for i := range n {
		e := audit.Entry{At: "2026-11-30T10:00:00.000000Z", Role: "admin", UserID: int64(i), Action: "user.update",
			Details: map[string]string{"status": "active → disabled"}}
		e.Seal("tenant:7", prev)
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}

func verify(scope string, es []audit.Entry) *audit.Verifier {
	v := &audit.Verifier{Scope: scope}
	for _, e := range es {
		v.Add(e)
	}
	return v
}

func TestChain(t *testing.T) {
	es := chain(5)
	if v := verify("tenant:7", es); len(v.Findings) != 0 || v.Count != 5 {
		t.Fatalf("intact chain: %s", v.Summary())
	}
	if v := verify("tenant:8", es); len(v.Findings) != 5 {
		t.Fatalf("a chain copied into another tenant must not verify: %s", v.Summary())
	}

	edited := append([]audit.Entry(nil), es...)
	edited[2].Details = map[string]string{"status": "active → active"}
	v := verify("tenant:7", edited)
	if len(v.Findings) != 1 || v.Findings[0].Seq != 3 || !strings.Contains(v.Findings[0].Problem, "edited") {
		t.Fatalf("edit: %s", v.Summary())
	}

	// Re-sealing the edited row moves the break to the next link.
	edited[2].Hash = edited[2].Compute("tenant:7")
	v = verify("tenant:7", edited)
	if len(v.Findings) != 1 || v.Findings[0].Seq != 4 || !strings.Contains(v.Findings[0].Problem, "link") {
		t.Fatalf("re-sealed edit: %s", v.Summary())
	}

	gap := append(append([]audit.Entry(nil), es[:2]...), es[3:]...)
	v = verify("tenant:7", gap)
	if len(v.Findings) != 2 || !strings.Contains(v.Findings[0].Problem, "gap: entries 3 to 3") {
		t.Fatalf("gap: %s", v.Summary())
	}
}

func TestDetailsJSONIsCanonical(t *testing.T) {
	a := audit.Entry{Details: map[string]string{"b": "2", "a": "1"}}
	if got := a.DetailsJSON(); got != `{"a":"1","b":"2"}` {
		t.Fatalf("details %s", got)
	}
	var b audit.Entry
	if err := b.SetDetailsJSON(a.DetailsJSON()); err != nil || b.Details["b"] != "2" {
		t.Fatalf("round trip: %v %v", b.Details, err)
	}
	if (&audit.Entry{}).DetailsJSON() != "{}" {
		t.Fatal("empty details")
	}
}

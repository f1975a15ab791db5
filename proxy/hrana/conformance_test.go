package hrana_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// Conformance cases T01–T24 from the protocol brief (docs/hrana.md §15).
// Authentication (T23's token cases) is the proxy's job and is tested end to
// end in proxy/hranae2e_test.go; the baton binding part is here.

func TestT01ProbesAndRouting(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v2", 200}, {"GET", "/v3", 200},
		{"GET", "/v3-protobuf", 200}, {"GET", "/nope", 404}, {"POST", "/v4/pipeline", 404},
		{"GET", "/v2/pipeline", 404},
	} {
		if got := s.do(c.method, c.path, "").Status; got != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

func TestT02OneShotExecuteAndClose(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1 AS one, 'a' AS s","args":[],"named_args":[],"want_rows":true}},{"type":"close"}]}`)
	if r.ContentType != "application/json" {
		t.Errorf("content type %q", r.ContentType)
	}
	if r.Body["baton"] != nil {
		t.Errorf("baton = %v, want null", r.Body["baton"])
	}
	jsonEq(t, "result 0", mustJSON(r.result(t, 0)), `{"type":"ok","response":{"type":"execute","result":{"cols":[{"name":"one","decltype":null},{"name":"s","decltype":null}],"rows":[[{"type":"integer","value":"1"},{"type":"text","value":"a"}]],"affected_row_count":0,"last_insert_rowid":null}}}`)
	jsonEq(t, "result 1", mustJSON(r.result(t, 1)), `{"type":"ok","response":{"type":"close"}}`)
	if !strings.Contains(r.Raw, `"base_url":null`) {
		t.Errorf("base_url missing: %s", r.Raw)
	}
}

func TestT03GoShapeWantRows(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	// No Content-Type header, as the Go client sends.
	r := s.do("POST", "/v2/pipeline", `{"requests":[{"type":"execute","stmt":{"sql":"SELECT 1","want_rows":false}},{"type":"execute","stmt":{"sql":"SELECT 2"}}]}`, "Content-Type", "")
	if r.Status != 200 || r.baton() == "" {
		t.Fatalf("status %d baton %q", r.Status, r.baton())
	}
	res := r.ok(t, 0)["result"].(map[string]any)
	eq(t, "rows", res["rows"], []any{})
	jsonEq(t, "cols", mustJSON(res["cols"]), `[{"name":"1","decltype":null}]`)
	jsonEq(t, "rows 1", r.rows(t, 1), `[[{"type":"integer","value":"2"}]]`)
}

func TestT04AllValueTypes(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?1, ?2, ?3, ?4, ?5, typeof(?1), typeof(?2), typeof(?3), typeof(?4), typeof(?5)","args":[{"type":"null"},{"type":"integer","value":"-42"},{"type":"float","value":3.5},{"type":"text","value":"héllo \"q\"\n"},{"type":"blob","base64":"AAEC/w"}]}}]}`)
	jsonEq(t, "row", r.rows(t, 0), `[[{"type":"null"},{"type":"integer","value":"-42"},{"type":"float","value":3.5},{"type":"text","value":"héllo \"q\"\n"},{"type":"blob","base64":"AAEC/w"},{"type":"text","value":"null"},{"type":"text","value":"integer"},{"type":"text","value":"real"},{"type":"text","value":"text"},{"type":"text","value":"blob"}]]`)
}

func TestT05Int64Exact(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?1, ?1 + 0, ?2, ?3, 9007199254740993 * 1","args":[{"type":"integer","value":"9007199254740993"},{"type":"integer","value":"9223372036854775807"},{"type":"integer","value":"-9223372036854775808"}]}}]}`)
	if got := r.rows(t, 0); got != `[[{"type":"integer","value":"9007199254740993"},{"type":"integer","value":"9007199254740993"},{"type":"integer","value":"9223372036854775807"},{"type":"integer","value":"-9223372036854775808"},{"type":"integer","value":"9007199254740993"}]]` {
		t.Errorf("row = %s", got)
	}
	// The raw body carries the exact strings (no float round trip).
	if !strings.Contains(r.Raw, `"value":"9223372036854775807"`) {
		t.Errorf("raw body lost precision: %s", r.Raw)
	}
	for _, bad := range []string{`"9223372036854775808"`, `"1.5"`, `""`, `"0x10"`, `1.5`} {
		r := s.do("POST", "/v2/pipeline", `{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?","args":[{"type":"integer","value":`+bad+`}]}}]}`)
		if r.Status != 400 || r.ContentType != "application/json" || r.Body["message"] == nil {
			t.Errorf("integer %s: status %d %s", bad, r.Status, r.Raw)
		}
	}
}

func TestT06BlobPaddingEmptyValuesFloats(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?1, length(?1), ?2, typeof(?2), ?3, typeof(?3), '' AS e, 0.0 AS z","args":[{"type":"blob","base64":"AAEC/w=="},{"type":"blob","base64":""},{"type":"float","value":42}]}}]}`)
	want := `[[{"type":"blob","base64":"AAEC/w"},{"type":"integer","value":"4"},{"type":"blob","base64":""},{"type":"text","value":"blob"},{"type":"float","value":42},{"type":"text","value":"real"},{"type":"text","value":""},{"type":"float","value":0}]]`
	jsonEq(t, "row", r.rows(t, 0), want)
	if !strings.Contains(r.Raw, `{"type":"float","value":0}`) || !strings.Contains(r.Raw, `{"type":"text","value":""}`) {
		t.Errorf("zero values omitted: %s", r.Raw)
	}
}

func TestT07NamedArgs(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	v := func(n string) string { return `{"type":"integer","value":"` + n + `"}` }
	r := s.pipeline(`{"requests":[
		{"type":"execute","stmt":{"sql":"SELECT :a, @b, $c","named_args":[{"name":":a","value":` + v("1") + `},{"name":"@b","value":` + v("2") + `},{"name":"$c","value":` + v("3") + `}]}},
		{"type":"execute","stmt":{"sql":"SELECT :a, @b, $c","named_args":[{"name":"a","value":` + v("1") + `},{"name":"b","value":` + v("2") + `},{"name":"c","value":` + v("3") + `}]}},
		{"type":"execute","stmt":{"sql":"SELECT :x, :x, @x","named_args":[{"name":"x","value":` + v("7") + `}]}}]}`)
	want123 := `[[` + v("1") + `,` + v("2") + `,` + v("3") + `]]`
	eq(t, "prefixed", r.rows(t, 0), want123)
	eq(t, "bare", r.rows(t, 1), want123)
	eq(t, "shared", r.rows(t, 2), `[[`+v("7")+`,`+v("7")+`,`+v("7")+`]]`)
}

// TestT08ArgumentErrorsPerRequest: argument errors are per-request; a
// parameter with no value binds NULL, as SQLite does (sqld refuses it with
// "value for parameter X not found"; see README, SQL differences).
func TestT08ArgumentErrorsPerRequest(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	one := `{"type":"integer","value":"1"}`
	r := s.pipeline(`{"requests":[
		{"type":"execute","stmt":{"sql":"SELECT ?","args":[` + one + `,` + one + `]}},
		{"type":"execute","stmt":{"sql":"SELECT ?","args":[` + one + `],"named_args":[{"name":"a","value":` + one + `}]}},
		{"type":"execute","stmt":{"sql":"SELECT ?, ?","args":[` + one + `]}},
		{"type":"execute","stmt":{"sql":"SELECT :a, ?3, @b","named_args":[{"name":"b","value":` + one + `}]}},
		{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	for i, want := range []string{"ARGS_INVALID", "ARGS_BOTH_POSITIONAL_AND_NAMED"} {
		code, msg := r.errCode(t, i)
		if code != want || msg == "" {
			t.Errorf("results[%d] = %s %q, want %s", i, code, msg, want)
		}
	}
	null := `{"type":"null"}`
	eq(t, "missing positional", r.rows(t, 2), `[[`+one+`,`+null+`]]`)
	eq(t, "missing named", r.rows(t, 3), `[[`+null+`,`+null+`,`+one+`]]`)
	r.ok(t, 4)
	if r.baton() == "" {
		t.Error("no baton")
	}
}

func TestT09SQLErrorsDoNotAbort(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY)")
	s.exec("INSERT INTO t VALUES (1)")
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELEC 1"}},{"type":"execute","stmt":{"sql":"INSERT INTO t VALUES (1)"}},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM t"}}]}`)
	if code, _ := r.errCode(t, 0); code == "" {
		t.Error("empty code for syntax error")
	}
	code, msg := r.errCode(t, 1)
	if code != "SQLITE_CONSTRAINT" || !strings.Contains(msg, "UNIQUE constraint failed: t.id") {
		t.Errorf("constraint error = %s %q", code, msg)
	}
	eq(t, "count", r.rows(t, 2), `[[{"type":"integer","value":"1"}]]`)
}

func TestT10OneStatementPerExecute(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	s.exec("CREATE TABLE m(x)")
	r := s.pipeline(`{"requests":[
		{"type":"execute","stmt":{"sql":"SELECT 1; INSERT INTO m VALUES (1)"}},
		{"type":"execute","stmt":{"sql":"SELECT 1;"}},
		{"type":"execute","stmt":{"sql":"SELECT 1; -- trailing comment"}},
		{"type":"execute","stmt":{"sql":"   -- only a comment"}},
		{"type":"execute","stmt":{"sql":"SELECT count(*) FROM m"}}]}`)
	if code, _ := r.errCode(t, 0); code != "SQL_MANY_STATEMENTS" {
		t.Errorf("many = %s", code)
	}
	r.ok(t, 1)
	r.ok(t, 2)
	if code, _ := r.errCode(t, 3); code != "SQL_NO_STATEMENT" {
		t.Errorf("none = %s", code)
	}
	eq(t, "second statement did not run", r.rows(t, 4), `[[{"type":"integer","value":"0"}]]`)
}

func TestT11InteractiveTransaction(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	s.exec("CREATE TABLE t(x)")
	r1 := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"BEGIN","want_rows":false}}]}`)
	b1 := r1.baton()
	r2 := s.pipeline(`{"baton":"` + b1 + `","requests":[{"type":"execute","stmt":{"sql":"INSERT INTO t VALUES (1)","want_rows":false}}]}`)
	b2 := r2.baton()
	if b2 == "" || b2 == b1 {
		t.Fatalf("baton not renewed: %q %q", b1, b2)
	}
	res := r2.ok(t, 0)["result"].(map[string]any)
	if mustJSON(res["affected_row_count"]) != "1" || res["last_insert_rowid"] != "1" {
		t.Errorf("insert result %s", mustJSON(res))
	}
	eq(t, "uncommitted", s.exec("SELECT count(*) FROM t").rows(t, 0), `[[{"type":"integer","value":"0"}]]`)
	r4 := s.pipeline(`{"baton":"` + b2 + `","requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM t"}},{"type":"execute","stmt":{"sql":"COMMIT"}},{"type":"close"}]}`)
	eq(t, "inside", r4.rows(t, 0), `[[{"type":"integer","value":"1"}]]`)
	r4.ok(t, 1)
	r4.ok(t, 2)
	if r4.Body["baton"] != nil {
		t.Error("baton after close")
	}
	eq(t, "committed", s.exec("SELECT count(*) FROM t").rows(t, 0), `[[{"type":"integer","value":"1"}]]`)
}

func stepsOf(tb testing.TB, r resp, i int) (results, errors []any) {
	tb.Helper()
	res := r.ok(tb, i)["result"].(map[string]any)
	return res["step_results"].([]any), res["step_errors"].([]any)
}

func nils(xs []any) []bool {
	out := make([]bool, len(xs))
	for i, x := range xs {
		out[i] = x == nil
	}
	return out
}

func TestT12GoStyleBatch(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	s.exec("CREATE TABLE g(x UNIQUE)")
	batch := func(a, b int) string {
		return `{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"INSERT INTO g VALUES (` + itoa(a) + `)","want_rows":false}},{"stmt":{"sql":"INSERT INTO g VALUES (` + itoa(b) + `)","want_rows":false},"condition":{"type":"ok","step":0}},{"stmt":{"sql":"ROLLBACK","want_rows":false},"condition":{"type":"not","cond":{"type":"ok","step":1}}}]}}]}`
	}
	res, errs := stepsOf(t, s.pipeline(batch(1, 2)), 0)
	eq(t, "ok results nil", nils(res), []bool{false, false, true})
	eq(t, "ok errors nil", nils(errs), []bool{true, true, true})
	res, errs = stepsOf(t, s.pipeline(batch(3, 3)), 0)
	eq(t, "fail results nil", nils(res), []bool{false, true, true})
	eq(t, "fail errors nil", nils(errs), []bool{true, false, false})
	if code := errs[1].(map[string]any)["code"]; code != "SQLITE_CONSTRAINT" {
		t.Errorf("step 1 code %v", code)
	}
	if msg := errs[2].(map[string]any)["message"].(string); !strings.Contains(msg, "no transaction is active") {
		t.Errorf("step 2 message %q", msg)
	}
	eq(t, "count", s.exec("SELECT count(*) FROM g").rows(t, 0), `[[{"type":"integer","value":"3"}]]`)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestT13JSStyleTransactionalBatch(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	s.exec("CREATE TABLE j(x UNIQUE)")
	r := s.pipeline(`{"requests":[{"type":"store_sql","sql_id":0,"sql":"INSERT INTO j VALUES (?)"},{"type":"batch","batch":{"steps":[{"stmt":{"sql":"BEGIN DEFERRED","args":[],"named_args":[],"want_rows":false}},{"condition":{"type":"ok","step":0},"stmt":{"sql_id":0,"args":[{"type":"float","value":1}],"named_args":[],"want_rows":true}},{"condition":{"type":"ok","step":1},"stmt":{"sql_id":0,"args":[{"type":"float","value":1}],"named_args":[],"want_rows":true}},{"condition":{"type":"ok","step":2},"stmt":{"sql":"COMMIT","args":[],"named_args":[],"want_rows":false}},{"condition":{"type":"not","cond":{"type":"ok","step":3}},"stmt":{"sql":"ROLLBACK","args":[],"named_args":[],"want_rows":false}}]}},{"type":"close"}]}`)
	r.ok(t, 0)
	res, errs := stepsOf(t, r, 1)
	r.ok(t, 2)
	if r.Body["baton"] != nil {
		t.Error("baton after close")
	}
	eq(t, "results nil", nils(res), []bool{false, false, true, true, false})
	eq(t, "errors nil", nils(errs), []bool{true, true, false, true, true})
	if code := errs[2].(map[string]any)["code"]; code != "SQLITE_CONSTRAINT" {
		t.Errorf("code %v", code)
	}
	eq(t, "count", s.exec("SELECT count(*) FROM j").rows(t, 0), `[[{"type":"integer","value":"0"}]]`)
}

func TestT14ConditionAlgebra(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"batch","batch":{"steps":[
		{"stmt":{"sql":"SELECT 0"}},
		{"stmt":{"sql":"SELECT * FROM nope"}},
		{"stmt":{"sql":"SELECT 2"},"condition":{"type":"error","step":1}},
		{"stmt":{"sql":"SELECT 3"},"condition":{"type":"and","conds":[{"type":"ok","step":0},{"type":"not","cond":{"type":"error","step":1}}]}},
		{"stmt":{"sql":"SELECT 4"},"condition":{"type":"or","conds":[{"type":"ok","step":3},{"type":"ok","step":0}]}},
		{"stmt":{"sql":"SELECT 5"},"condition":{"type":"ok","step":3}},
		{"stmt":{"sql":"SELECT 6"},"condition":{"type":"error","step":3}},
		{"stmt":{"sql":"SELECT 7"},"condition":{"type":"and","conds":[]}},
		{"stmt":{"sql":"SELECT 8"},"condition":{"type":"or","conds":[]}}]}}]}`)
	res, errs := stepsOf(t, r, 0)
	eq(t, "results nil", nils(res), []bool{false, true, false, true, false, true, true, false, true})
	eq(t, "errors nil", nils(errs), []bool{true, false, true, true, true, true, true, true, true})
	// A condition on the step itself or a later one is refused.
	bad := s.do("POST", "/v2/pipeline", `{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"SELECT 0"},"condition":{"type":"ok","step":0}}]}}]}`)
	if bad.Status != 400 || bad.Body["code"] != "PROTOCOL_ERROR" {
		t.Errorf("self reference: %d %s", bad.Status, bad.Raw)
	}
}

func TestT15Autocommit(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.do("POST", "/v3/pipeline", `{"requests":[{"type":"get_autocommit"},{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"get_autocommit"},
		{"type":"batch","batch":{"steps":[{"stmt":{"sql":"SELECT 1"},"condition":{"type":"is_autocommit"}},{"stmt":{"sql":"SELECT 2"},"condition":{"type":"not","cond":{"type":"is_autocommit"}}}]}},
		{"type":"execute","stmt":{"sql":"ROLLBACK"}},{"type":"get_autocommit"}]}`)
	if r.Status != 200 {
		t.Fatalf("status %d %s", r.Status, r.Raw)
	}
	eq(t, "first", r.ok(t, 0)["is_autocommit"], true)
	eq(t, "in tx", r.ok(t, 2)["is_autocommit"], false)
	res, errs := stepsOf(t, r, 3)
	eq(t, "results nil", nils(res), []bool{true, false})
	eq(t, "errors nil", nils(errs), []bool{true, true})
	eq(t, "last", r.ok(t, 5)["is_autocommit"], true)
	for _, body := range []string{
		`{"requests":[{"type":"get_autocommit"}]}`,
		`{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"SELECT 1"},"condition":{"type":"is_autocommit"}}]}}]}`,
	} {
		if got := s.do("POST", "/v2/pipeline", body); got.Status != 400 {
			t.Errorf("v3 feature on v2: %d", got.Status)
		}
	}
}

func TestT16StoredSQL(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"store_sql","sql_id":0,"sql":"SELECT ?"},
		{"type":"execute","stmt":{"sql_id":0,"args":[{"type":"integer","value":"5"}]}},
		{"type":"batch","batch":{"steps":[{"stmt":{"sql_id":0,"args":[{"type":"integer","value":"6"}]}}]}},
		{"type":"close_sql","sql_id":0},{"type":"close_sql","sql_id":99}]}`)
	jsonEq(t, "store", mustJSON(r.ok(t, 0)), `{"type":"store_sql"}`)
	eq(t, "exec", r.rows(t, 1), `[[{"type":"integer","value":"5"}]]`)
	res, _ := stepsOf(t, r, 2)
	eq(t, "batch", mustJSON(res[0].(map[string]any)["rows"]), `[[{"type":"integer","value":"6"}]]`)
	jsonEq(t, "close_sql", mustJSON(r.ok(t, 3)), `{"type":"close_sql"}`)
	r.ok(t, 4)
	b := r.baton()
	r = s.pipeline(`{"baton":"` + b + `","requests":[{"type":"execute","stmt":{"sql_id":0}},
		{"type":"store_sql","sql_id":1,"sql":"SELECT 1"},{"type":"store_sql","sql_id":1,"sql":"SELECT 2"},
		{"type":"execute","stmt":{"sql":"SELECT 1","sql_id":1}},{"type":"execute","stmt":{}}]}`)
	for _, i := range []int{0, 2, 3, 4} {
		if code, _ := r.errCode(t, i); code == "" {
			t.Errorf("results[%d] has no code", i)
		}
	}
	r.ok(t, 1)
	// Stored texts are per stream.
	other := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql_id":1}}]}`)
	if code, _ := other.errCode(t, 0); code != "SQL_NOT_FOUND" {
		t.Errorf("other stream: %s", code)
	}
}

func TestT17Sequence(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"sequence","sql":"CREATE TABLE s(a); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2);"},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM s"}}]}`)
	jsonEq(t, "seq", mustJSON(r.ok(t, 0)), `{"type":"sequence"}`)
	eq(t, "count", r.rows(t, 1), `[[{"type":"integer","value":"2"}]]`)
	r = s.pipeline(`{"requests":[{"type":"sequence","sql":"INSERT INTO s VALUES (3); INSERT INTO nope VALUES (1); INSERT INTO s VALUES (4);"},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM s"}}]}`)
	r.errCode(t, 0)
	eq(t, "count", r.rows(t, 1), `[[{"type":"integer","value":"3"}]]`)
}

func TestT18Describe(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[{"type":"describe","sql":"SELECT :x AS v, ?2 FROM sqlite_master"},{"type":"describe","sql":"SELECT ?"}]}`)
	jsonEq(t, "describe", mustJSON(r.ok(t, 0)), `{"type":"describe","result":{"params":[{"name":":x"},{"name":"?2"}],"cols":[{"name":"v","decltype":null},{"name":"?2","decltype":null}],"is_explain":false,"is_readonly":true}}`)
	jsonEq(t, "bare", mustJSON(r.ok(t, 1)["result"].(map[string]any)["params"]), `[{"name":null}]`)
}

func TestT19StaleAndConcurrentBatons(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	b1 := s.pipeline(`{"requests":[]}`).baton()
	r2 := s.pipeline(`{"baton":"` + b1 + `","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	b2 := r2.baton()
	stale := s.do("POST", "/v2/pipeline", `{"baton":"`+b1+`","requests":[]}`)
	if stale.Status != 400 || stale.Body["code"] != "BATON_REUSED" {
		t.Errorf("stale baton: %d %s", stale.Status, stale.Raw)
	}
	// B2 still works; two requests at once with the next baton: one wins.
	b3 := s.pipeline(`{"baton":"` + b2 + `","requests":[]}`).baton()
	slow := `{"baton":"` + b3 + `","requests":[{"type":"execute","stmt":{"sql":"WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 3000000) SELECT count(*) FROM r"}}]}`
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = s.do("POST", "/v2/pipeline", slow).Status
		}(i)
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 400 || statuses[0] == 400 && statuses[1] == 200) {
		t.Errorf("concurrent statuses %v, want one 200 and one 400", statuses)
	}
}

func TestT20BatonAfterClose(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	b := s.pipeline(`{"requests":[]}`).baton()
	r := s.pipeline(`{"baton":"` + b + `","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}},{"type":"close"}]}`)
	if r.Body["baton"] != nil {
		t.Error("baton after close")
	}
	again := s.do("POST", "/v2/pipeline", `{"baton":"`+b+`","requests":[]}`)
	if again.Status != 400 || again.ContentType != "application/json" {
		t.Errorf("closed baton: %d %s", again.Status, again.Raw)
	}
	r = s.pipeline(`{"requests":[{"type":"close"}]}`)
	jsonEq(t, "close alone", mustJSON(r.result(t, 0)), `{"type":"ok","response":{"type":"close"}}`)
	if r.Body["baton"] != nil {
		t.Error("baton after close")
	}
	r = s.pipeline(`{"requests":[{"type":"close"},{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	if code, _ := r.errCode(t, 1); code != "STREAM_CLOSED" {
		t.Errorf("after close: %s", code)
	}
}

func TestT21ForgedBatons(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	s.exec("CREATE TABLE f(x)")
	good := s.pipeline(`{"requests":[]}`).baton()
	forged := []byte(good)
	if forged[len(forged)-2] == 'A' {
		forged[len(forged)-2] = 'B'
	} else {
		forged[len(forged)-2] = 'A'
	}
	for _, b := range []string{"not-a-baton", string(forged), ""} {
		r := s.do("POST", "/v2/pipeline", `{"baton":"`+b+`","requests":[{"type":"execute","stmt":{"sql":"INSERT INTO f VALUES (1)"}}]}`)
		if r.Status != 400 || r.Body["code"] != "BATON_INVALID" || r.Body["error"] == nil || r.Body["message"] == nil {
			t.Errorf("baton %q: %d %s", b, r.Status, r.Raw)
		}
	}
	eq(t, "nothing ran", s.exec("SELECT count(*) FROM f").rows(t, 0), `[[{"type":"integer","value":"0"}]]`)
}

func TestT22StreamExpiry(t *testing.T) {
	s := newTestServer(t, hrana.Config{StreamIdleTimeout: 500 * time.Millisecond})
	b1 := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"execute","stmt":{"sql":"CREATE TABLE e(x)"}}]}`).baton()
	time.Sleep(1500 * time.Millisecond)
	r := s.do("POST", "/v2/pipeline", `{"baton":"`+b1+`","requests":[]}`)
	if r.Status != 400 || r.ContentType != "application/json" || r.Body["code"] != "STREAM_EXPIRED" || r.Body["error"] == nil || r.Body["message"] == nil {
		t.Errorf("expired: %d %q %s", r.Status, r.ContentType, r.Raw)
	}
	n := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM sqlite_master WHERE name = 'e'"}},{"type":"execute","stmt":{"sql":"BEGIN IMMEDIATE"}},{"type":"execute","stmt":{"sql":"ROLLBACK"}},{"type":"close"}]}`)
	eq(t, "table rolled back", n.rows(t, 0), `[[{"type":"integer","value":"0"}]]`)
	n.ok(t, 1)
}

func TestT23BatonBoundToTenantAndPrincipal(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	b := s.pipeline(`{"requests":[]}`).baton()
	for _, h := range [][]string{{"X-Test-Tenant", "2"}, {"X-Test-Principal", "service:99"}} {
		r := s.do("POST", "/v2/pipeline", `{"baton":"`+b+`","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`, h...)
		if r.Status != 400 || r.Body["code"] != "BATON_INVALID" {
			t.Errorf("%v: %d %s", h, r.Status, r.Raw)
		}
	}
	// The owner can still use it.
	s.pipeline(`{"baton":"` + b + `","requests":[]}`)
}

func TestT24Cursor(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.do("POST", "/v3/cursor", `{"batch":{"steps":[{"stmt":{"sql":"SELECT 1 AS x"}},{"stmt":{"sql":"SELECT * FROM nope"}},{"condition":{"type":"ok","step":1},"stmt":{"sql":"SELECT 2"}}]}}`)
	if r.Status != 200 || !strings.HasSuffix(r.Raw, "\n") {
		t.Fatalf("status %d body %q", r.Status, r.Raw)
	}
	lines := strings.Split(strings.TrimSuffix(r.Raw, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("lines = %d: %q", len(lines), r.Raw)
	}
	if !strings.HasPrefix(lines[0], `{"baton":"`) || !strings.HasSuffix(lines[0], `","base_url":null}`) {
		t.Errorf("line 1 = %s", lines[0])
	}
	eq(t, "line 2", lines[1], `{"type":"step_begin","step":0,"cols":[{"name":"x","decltype":null}]}`)
	eq(t, "line 3", lines[2], `{"type":"row","row":[{"type":"integer","value":"1"}]}`)
	eq(t, "line 4", lines[3], `{"type":"step_end","affected_row_count":0,"last_insert_rowid":null}`)
	if !strings.HasPrefix(lines[4], `{"type":"step_error","step":1,"error":{"message":`) {
		t.Errorf("line 5 = %s", lines[4])
	}
	baton := strings.TrimSuffix(strings.TrimPrefix(lines[0], `{"baton":"`), `","base_url":null}`)
	f := s.do("POST", "/v3/pipeline", `{"baton":"`+baton+`","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	if f.Status != 200 {
		t.Errorf("follow-up: %d %s", f.Status, f.Raw)
	}
}

func TestMalformedBodies(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	for _, body := range []string{
		`not json`, `{"requests":[{"type":"nope"}]}`, `{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?","args":[{"type":"weird"}]}}]}`,
		`{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?","args":[{"type":"blob","base64":"!!"}]}}]}`,
		`{"requests":7}`,
	} {
		r := s.do("POST", "/v2/pipeline", body)
		if r.Status != 400 || r.ContentType != "application/json" || r.Body["error"] == nil || r.Body["code"] != "PROTOCOL_ERROR" {
			t.Errorf("%s: %d %s", body, r.Status, r.Raw)
		}
	}
	// Unknown fields are ignored.
	r := s.pipeline(`{"future":1,"requests":[{"type":"execute","extra":true,"stmt":{"sql":"SELECT 1","replication_index":"5"}}]}`)
	r.ok(t, 0)
}

// TestLastInsertRowidRepeated: an INSERT whose rowid equals the
// connection's previous one still reports it (libsql-client-go's own ws
// suite drops and recreates its table between tests on one connection).
func TestLastInsertRowidRepeated(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	r := s.pipeline(`{"requests":[
		{"type":"execute","stmt":{"sql":"CREATE TABLE r(id INTEGER PRIMARY KEY, x)"}},
		{"type":"execute","stmt":{"sql":"INSERT INTO r(x) VALUES (1)"}},
		{"type":"execute","stmt":{"sql":"DROP TABLE r"}},
		{"type":"execute","stmt":{"sql":"CREATE TABLE r(id INTEGER PRIMARY KEY, x)"}},
		{"type":"execute","stmt":{"sql":"INSERT INTO r(x) VALUES (2)"}},
		{"type":"execute","stmt":{"sql":"UPDATE r SET x = 3"}}]}`)
	for i, want := range map[int]any{1: "1", 4: "1", 5: nil} {
		if got := r.ok(t, i)["result"].(map[string]any)["last_insert_rowid"]; got != want {
			t.Errorf("results[%d].last_insert_rowid = %v, want %v", i, got, want)
		}
	}
}

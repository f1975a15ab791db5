package hrana_test

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/microfi/tenantgate/proxy/hrana"
)

// The Protobuf tests build requests field by field from the Hrana 3
// schema with protowire and read responses with a schema-less field
// reader, so they check the wire format independently of the server's
// codec. The real JS client (TestJSClient) negotiates /v3-protobuf too.

// pb builds a message from fields appended in order.
type pb []byte

func (m pb) str(num protowire.Number, s string) pb {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

func (m pb) msg(num protowire.Number, sub pb) pb {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, sub)
}

func (m pb) varint(num protowire.Number, v uint64) pb {
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, v)
}

func (m pb) double(num protowire.Number, f float64) pb {
	m = protowire.AppendTag(m, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(m, math.Float64bits(f))
}

// fields is a decoded message: each field number's raw values in order
// (varints and fixed64 as uint64, length-delimited as bytes).
type fields map[protowire.Number][]any

func parse(tb testing.TB, b []byte) fields {
	tb.Helper()
	f := fields{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			tb.Fatalf("bad tag in %x", b)
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			f[num], b = append(f[num], v), b[n:]
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			f[num], b = append(f[num], v), b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				tb.Fatalf("bad bytes field %d", num)
			}
			f[num], b = append(f[num], v), b[n:]
		default:
			tb.Fatalf("unexpected wire type %d", typ)
		}
	}
	return f
}

func (f fields) sub(tb testing.TB, num protowire.Number, i int) fields {
	tb.Helper()
	if len(f[num]) <= i {
		tb.Fatalf("no field %d[%d] in %v", num, i, f)
	}
	return parse(tb, f[num][i].([]byte))
}

func (f fields) str(num protowire.Number) string {
	if len(f[num]) == 0 {
		return ""
	}
	return string(f[num][0].([]byte))
}

func (f fields) uint(num protowire.Number) uint64 {
	if len(f[num]) == 0 {
		return 0
	}
	return f[num][0].(uint64)
}

func (s *testServer) postPB(tb testing.TB, path string, body []byte) (int, string, []byte) {
	tb.Helper()
	res, err := http.Post(s.URL+path, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), raw
}

func execReq(sql string, args ...pb) pb {
	st := pb{}.str(1, sql)
	for _, a := range args {
		st = st.msg(3, a)
	}
	return pb{}.msg(2, pb{}.msg(1, st)) // StreamRequest.execute{stmt}
}

// TestProtobufPipeline runs every value type, an error, a batch with
// conditions and get_autocommit over /v3-protobuf/pipeline, then continues
// the stream with the returned baton.
func TestProtobufPipeline(t *testing.T) {
	s := newTestServer(t, hrana.Config{})
	if r := s.do("GET", "/v3-protobuf", ""); r.Status != 200 {
		t.Fatalf("GET /v3-protobuf = %d", r.Status)
	}
	null := pb{}.msg(1, nil)
	req := pb{}.
		msg(2, execReq("SELECT ?, ?, ?, ?, ?, ?",
			pb{}.varint(2, protowire.EncodeZigZag(-9223372036854775808)),
			pb{}.double(3, 2.5), pb{}.str(4, "héllo"), pb{}.msg(5, []byte{0, 1, 255}), null, pb{}.msg(5, nil))).
		msg(2, execReq("SELEC 1")).
		msg(2, pb{}.msg(8, nil)).            // get_autocommit
		msg(2, pb{}.msg(3, pb{}.msg(1, pb{}. // batch
							msg(1, pb{}.msg(2, pb{}.str(1, "SELECT 10"))).
							msg(1, pb{}.msg(1, pb{}.varint(2, 0)).msg(2, pb{}.str(1, "SELECT 11"))). // cond error(0): skipped
							msg(1, pb{}.msg(1, pb{}.msg(3, pb{}.varint(2, 0))).msg(2, pb{}.str(1, "SELECT * FROM nope")))))).
		varint(99, 7)                        // unknown field: skipped
	status, ctype, raw := s.postPB(t, "/v3-protobuf/pipeline", req)
	if status != 200 || ctype != "application/x-protobuf" {
		t.Fatalf("pipeline: %d %s %q", status, ctype, raw)
	}
	body := parse(t, raw)
	baton := body.str(1)
	if baton == "" || len(body[3]) != 4 {
		t.Fatalf("baton %q, %d results", baton, len(body[3]))
	}
	// results[0]: ok → execute → result → one row of six values.
	res := body.sub(t, 3, 0).sub(t, 1, 0).sub(t, 2, 0).sub(t, 1, 0)
	if len(res[1]) != 6 || len(res[2]) != 1 {
		t.Fatalf("cols/rows: %v", res)
	}
	row := res.sub(t, 2, 0)
	if v := protowire.DecodeZigZag(row.sub(t, 1, 0).uint(2)); v != math.MinInt64 {
		t.Errorf("integer = %d", v)
	}
	if v := math.Float64frombits(row.sub(t, 1, 1).uint(3)); v != 2.5 {
		t.Errorf("float = %v", v)
	}
	if v := row.sub(t, 1, 2).str(4); v != "héllo" {
		t.Errorf("text = %q", v)
	}
	if v := row.sub(t, 1, 3)[5][0].([]byte); !bytes.Equal(v, []byte{0, 1, 255}) {
		t.Errorf("blob = %x", v)
	}
	if v := row.sub(t, 1, 4); len(v[1]) != 1 {
		t.Errorf("null = %v", v)
	}
	if v := row.sub(t, 1, 5)[5]; len(v) != 1 || len(v[0].([]byte)) != 0 {
		t.Errorf("empty blob = %v", v)
	}
	// results[1]: error with a code.
	if e := body.sub(t, 3, 1).sub(t, 2, 0); e.str(1) == "" || e.str(2) == "" {
		t.Errorf("error result: %v", e)
	}
	// results[2]: get_autocommit = true.
	if v := body.sub(t, 3, 2).sub(t, 1, 0).sub(t, 8, 0).uint(1); v != 1 {
		t.Errorf("is_autocommit = %d", v)
	}
	// results[3]: batch: step 0 ran, step 1 skipped, step 2 failed.
	br := body.sub(t, 3, 3).sub(t, 1, 0).sub(t, 3, 0).sub(t, 1, 0)
	if len(br[1]) != 1 || br.sub(t, 1, 0).uint(1) != 0 {
		t.Errorf("step_results: %v", br[1])
	}
	if len(br[2]) != 1 || br.sub(t, 2, 0).uint(1) != 2 || br.sub(t, 2, 0).sub(t, 2, 0).str(1) == "" {
		t.Errorf("step_errors: %v", br[2])
	}

	// The baton continues the stream; close ends it (no baton).
	status, _, raw = s.postPB(t, "/v3-protobuf/pipeline", pb{}.str(1, baton).msg(2, execReq("SELECT 1")).msg(2, pb{}.msg(1, nil)))
	body = parse(t, raw)
	if status != 200 || len(body[1]) != 0 || len(body[3]) != 2 {
		t.Fatalf("close: %d %v", status, body)
	}

	// Malformed bodies are protocol errors, answered in JSON.
	for _, bad := range [][]byte{{0x12, 0x05, 0x01}, {0xff}, pb{}.msg(2, pb{}.msg(42, nil))} {
		r := s.do("POST", "/v3-protobuf/pipeline", string(bad), "Content-Type", "application/x-protobuf")
		if r.Status != 400 || r.Body["code"] != "PROTOCOL_ERROR" {
			t.Errorf("bad body %x: %d %s", bad, r.Status, r.Raw)
		}
	}
}

// TestProtobufCursor reads a cursor past the row cap from
// /v3-protobuf/cursor, as length-delimited CursorEntry items (the JS test
// reads one of 100,001 rows).
func TestProtobufCursor(t *testing.T) {
	s := newTestServer(t, hrana.Config{MaxRowsPerResponse: 1000, StatementTimeout: time.Minute}) // -race makes SQLite slow
	const n = 3000
	sql := "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000) SELECT x FROM c"
	req := pb{}.msg(2, pb{}.
		msg(1, pb{}.msg(2, pb{}.str(1, sql))).
		msg(1, pb{}.msg(2, pb{}.str(1, "SELECT * FROM nope"))))
	status, ctype, raw := s.postPB(t, "/v3-protobuf/cursor", req)
	if status != 200 || ctype != "application/x-protobuf" {
		t.Fatalf("cursor: %d %s %q", status, ctype, raw[:min(len(raw), 200)])
	}
	var items []fields
	for len(raw) > 0 {
		b, k := protowire.ConsumeBytes(raw)
		if k < 0 {
			t.Fatal("truncated cursor item")
		}
		items, raw = append(items, parse(t, b)), raw[k:]
	}
	if len(items) != n+4 || items[0].str(1) == "" {
		t.Fatalf("%d items; first %v", len(items), items[0])
	}
	if len(items[1][1]) != 1 || len(items[n+2][2]) != 1 || len(items[n+3][3]) != 1 {
		t.Errorf("step_begin/step_end/step_error misplaced")
	}
	if v := protowire.DecodeZigZag(items[n+1].sub(t, 4, 0).sub(t, 1, 0).uint(2)); v != n {
		t.Errorf("last row = %d", v)
	}
	// The same query on a pipeline hits the row cap.
	r := s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":"` + sql + `"}}]}`)
	if code, _ := r.errCode(t, 0); code != "RESPONSE_TOO_LARGE" {
		t.Errorf("pipeline code %s", code)
	}
}

package hrana

import (
	"encoding/json"
	"testing"
)

// TestValueDecoding checks exact decoding, and that the fast path and the
// general path agree on every input the fast path accepts.
func TestValueDecoding(t *testing.T) {
	cases := []struct {
		in   string
		want value
		bad  bool
	}{
		{in: `{"type":"null"}`, want: value{Type: typeNull}},
		{in: `{"type":"null","value":5}`, want: value{Type: typeNull}},
		{in: `{"type":"integer","value":"9223372036854775807"}`, want: value{Type: typeInteger, Int: 9223372036854775807}},
		{in: `{"type":"integer","value":"-9223372036854775808"}`, want: value{Type: typeInteger, Int: -9223372036854775808}},
		{in: `{"value":"7","type":"integer"}`, want: value{Type: typeInteger, Int: 7}},
		{in: `{"type":"integer","value":7}`, want: value{Type: typeInteger, Int: 7}},
		{in: `{"type":"integer","value":"9223372036854775808"}`, bad: true},
		{in: `{"type":"integer","value":"1.5"}`, bad: true},
		{in: `{"type":"integer","value":1.5}`, bad: true},
		{in: `{"type":"integer","value":""}`, bad: true},
		{in: `{"type":"integer"}`, bad: true},
		{in: `{"type":"float","value":42}`, want: value{Type: typeFloat, Float: 42}},
		{in: `{"type":"float","value":-1.5e-7}`, want: value{Type: typeFloat, Float: -1.5e-7}},
		{in: `{"type":"float","value":"1"}`, bad: true},
		{in: `{"type":"text","value":"plain"}`, want: value{Type: typeText, Text: "plain"}},
		{in: `{"type":"text","value":"h\u00e9\n\"q\""}`, want: value{Type: typeText, Text: "hé\n\"q\""}},
		{in: `{"type":"text","value":""}`, want: value{Type: typeText, Text: ""}},
		{in: `{"type":"text"}`, bad: true},
		{in: `{"type":"blob","base64":"AAEC/w=="}`, want: value{Type: typeBlob, Blob: []byte{0, 1, 2, 255}}},
		{in: `{"type":"blob","base64":"AAEC/w"}`, want: value{Type: typeBlob, Blob: []byte{0, 1, 2, 255}}},
		{in: `{"type":"blob","base64":""}`, want: value{Type: typeBlob, Blob: []byte{}}},
		{in: `{"type":"blob","base64":"!"}`, bad: true},
		{in: `{"type":"weird"}`, bad: true},
	}
	for _, c := range cases {
		var got value
		err := json.Unmarshal([]byte(c.in), &got)
		if c.bad {
			if err == nil {
				t.Errorf("%s: accepted as %+v", c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got.Type != c.want.Type || got.Int != c.want.Int || got.Float != c.want.Float || got.Text != c.want.Text || string(got.Blob) != string(c.want.Blob) || (got.Type == typeBlob && got.Blob == nil) {
			t.Errorf("%s: got %+v, want %+v", c.in, got, c.want)
		}
		var fast value
		if fastValue([]byte(c.in), &fast) && (fast.Type != got.Type || fast.Int != got.Int || fast.Float != got.Float || fast.Text != got.Text) {
			t.Errorf("%s: fast path %+v differs from %+v", c.in, fast, got)
		}
	}
}

func TestEncodeValues(t *testing.T) {
	id := int64(-5)
	res := &stmtResult{
		Cols: []col{{Name: "a"}},
		Rows: [][]value{{
			{Type: typeFloat, Float: 0}, {Type: typeFloat, Float: 1e21}, {Type: typeFloat, Float: 1e-7},
			{Type: typeText, Text: "\x00\u2028\xff<"}, {Type: typeBlob, Blob: []byte{}}, {Type: typeNull},
		}},
		LastInsertRowid: &id,
	}
	got := string(appendStmtResult(nil, res))
	want := `{"cols":[{"name":"a","decltype":null}],"rows":[[{"type":"float","value":0},{"type":"float","value":1e+21},{"type":"float","value":1e-7},{"type":"text","value":"\u0000\u2028\ufffd<"},{"type":"blob","base64":""},{"type":"null"}]],"affected_row_count":0,"last_insert_rowid":"-5"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Error("invalid JSON")
	}
}

func TestIsInsert(t *testing.T) {
	for sql, want := range map[string]bool{
		"INSERT INTO t VALUES (1)": true, "  insert or replace into t values (1)": true,
		"REPLACE INTO t VALUES (1)": true, "-- c\n/* x */ INSERT INTO t VALUES (1)": true,
		"WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a": true,
		"UPDATE t SET x = 1": false, "DELETE FROM t": false, "SELECT 'insert'": false, "": false, "/* unterminated": false,
	} {
		if got := isInsert(sql); got != want {
			t.Errorf("isInsert(%q) = %v", sql, got)
		}
	}
}

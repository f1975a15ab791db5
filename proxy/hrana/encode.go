package hrana

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
)

// The response encoder appends JSON to a byte slice. It follows §7–§8 of the
// protocol brief: integers and last_insert_rowid as decimal strings, floats
// as numbers (NaN and ±Inf, which JSON cannot carry, as null, like sqld),
// text and base64 always present even when empty, blobs as unpadded
// standard base64, arrays never null.

func appendPipelineResp(b []byte, baton string, results []streamResult) []byte {
	b = append(b, `{"baton":`...)
	b = appendBaton(b, baton)
	b = append(b, `,"base_url":null,"results":[`...)
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStreamResult(b, &results[i])
	}
	return append(b, "]}"...)
}

func appendBaton(b []byte, baton string) []byte {
	if baton == "" {
		return append(b, "null"...)
	}
	return appendString(b, baton)
}

func appendStreamResult(b []byte, r *streamResult) []byte {
	if r.Err != nil {
		b = append(b, `{"type":"error","error":`...)
		b = appendError(b, r.Err)
		return append(b, '}')
	}
	b = append(b, `{"type":"ok","response":`...)
	b = appendResponse(b, r)
	return append(b, '}')
}

// appendResponse appends an ok response object: {"type":…} and its
// result, the same over HTTP and WebSocket.
func appendResponse(b []byte, r *streamResult) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, r.Type)
	switch r.Type {
	case "execute":
		b = append(b, `,"result":`...)
		b = appendStmtResult(b, r.Stmt)
	case "batch":
		b = append(b, `,"result":`...)
		b = appendBatchResult(b, r.Batch)
	case "describe":
		b = append(b, `,"result":`...)
		b = appendDescribe(b, r.Describe)
	case "get_autocommit":
		b = append(b, `,"is_autocommit":`...)
		b = strconv.AppendBool(b, r.IsAutocommit)
	}
	return append(b, '}')
}

func appendError(b []byte, e *hranaError) []byte {
	b = append(b, `{"message":`...)
	b = appendString(b, e.Message)
	b = append(b, `,"code":`...)
	b = appendString(b, e.Code)
	return append(b, '}')
}

func appendCols(b []byte, cols []col) []byte {
	b = append(b, '[')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, c.Name)
		b = append(b, `,"decltype":`...)
		if c.Decltype == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *c.Decltype)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStmtResult(b []byte, r *stmtResult) []byte {
	b = append(b, `{"cols":`...)
	b = appendCols(b, r.Cols)
	b = append(b, `,"rows":[`...)
	for i, row := range r.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, row)
	}
	b = append(b, `],"affected_row_count":`...)
	b = strconv.AppendInt(b, r.AffectedRows, 10)
	b = append(b, `,"last_insert_rowid":`...)
	b = appendRowid(b, r.LastInsertRowid)
	return append(b, '}')
}

func appendRowid(b []byte, id *int64) []byte {
	if id == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, *id, 10)
	return append(b, '"')
}

func appendRow(b []byte, row []value) []byte {
	b = append(b, '[')
	for j := range row {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendValue(b, &row[j])
	}
	return append(b, ']')
}

func appendBatchResult(b []byte, r *batchResult) []byte {
	b = append(b, `{"step_results":[`...)
	for i, s := range r.StepResults {
		if i > 0 {
			b = append(b, ',')
		}
		if s == nil {
			b = append(b, "null"...)
		} else {
			b = appendStmtResult(b, s)
		}
	}
	b = append(b, `],"step_errors":[`...)
	for i, e := range r.StepErrors {
		if i > 0 {
			b = append(b, ',')
		}
		if e == nil {
			b = append(b, "null"...)
		} else {
			b = appendError(b, e)
		}
	}
	return append(b, "]}"...)
}

func appendDescribe(b []byte, d *describeResult) []byte {
	b = append(b, `{"params":[`...)
	for i, p := range d.Params {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		if p == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *p)
		}
		b = append(b, '}')
	}
	b = append(b, `],"cols":`...)
	b = appendCols(b, d.Cols)
	b = append(b, `,"is_explain":`...)
	b = strconv.AppendBool(b, d.IsExplain)
	b = append(b, `,"is_readonly":`...)
	b = strconv.AppendBool(b, d.IsReadonly)
	return append(b, '}')
}

func appendValue(b []byte, v *value) []byte {
	switch v.Type {
	case typeInteger:
		b = append(b, `{"type":"integer","value":"`...)
		b = strconv.AppendInt(b, v.Int, 10)
		return append(b, `"}`...)
	case typeFloat:
		b = append(b, `{"type":"float","value":`...)
		b = appendFloat(b, v.Float)
		return append(b, '}')
	case typeText:
		b = append(b, `{"type":"text","value":`...)
		b = appendString(b, v.Text)
		return append(b, '}')
	case typeBlob:
		b = append(b, `{"type":"blob","base64":"`...)
		b = base64.RawStdEncoding.AppendEncode(b, v.Blob)
		return append(b, `"}`...)
	default:
		return append(b, `{"type":"null"}`...)
	}
}

// appendFloat formats like encoding/json (shortest round-trip form,
// exponent only for very large or small magnitudes).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// with encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

package hrana

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Decoding of Hrana 3 Protobuf requests (HTTP bodies and WebSocket client
// messages) into the same request types the JSON decoder fills, so one
// executor serves both encodings. The field numbers are those of the
// Protobuf schema in the Hrana 3 specification. The wire format is read
// with protowire directly: the messages are few and small, and going
// straight to the executor's types saves a generated layer and a copy.
// Unknown fields are skipped, as Protobuf requires.

var errTruncated = errors.New("truncated or malformed Protobuf message")

// pbFields calls f for every field of msg; f consumes the field's value
// from b and returns how many bytes it used, or -1 to skip the field.
func pbFields(msg []byte, f func(num protowire.Number, typ protowire.Type, b []byte) (int, error)) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return errTruncated
		}
		msg = msg[n:]
		used, err := f(num, typ, msg)
		if err != nil {
			return err
		}
		if used < 0 {
			used = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if used < 0 {
			return errTruncated
		}
		msg = msg[used:]
	}
	return nil
}

// Typed readers: each checks the wire type and returns the value and the
// bytes consumed (negative on error).

func pbBytes(typ protowire.Type, b []byte) ([]byte, int, error) {
	if typ != protowire.BytesType {
		return nil, 0, errTruncated
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, errTruncated
	}
	return v, n, nil
}

func pbVarint(typ protowire.Type, b []byte) (uint64, int, error) {
	if typ != protowire.VarintType {
		return 0, 0, errTruncated
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, errTruncated
	}
	return v, n, nil
}

func pbInt32(typ protowire.Type, b []byte) (int32, int, error) {
	v, n, err := pbVarint(typ, b)
	return int32(v), n, err
}

func pbUint32(typ protowire.Type, b []byte) (uint32, int, error) {
	v, n, err := pbVarint(typ, b)
	if err == nil && v > math.MaxUint32 {
		return 0, 0, errTruncated
	}
	return uint32(v), n, err
}

// decodePipelinePB decodes a PipelineReqBody.
func decodePipelinePB(msg []byte) (pipelineReq, error) {
	var req pipelineReq
	err := pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := pbBytes(typ, b)
			s := string(v)
			req.Baton = &s
			return n, err
		case 2:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			r, err := decodeStreamReqPB(v)
			req.Requests = append(req.Requests, r)
			return n, err
		}
		return -1, nil
	})
	if req.Requests == nil {
		req.Requests = []streamReq{}
	}
	return req, err
}

// decodeCursorPB decodes a CursorReqBody.
func decodeCursorPB(msg []byte) (cursorReq, error) {
	var req cursorReq
	err := pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := pbBytes(typ, b)
			s := string(v)
			req.Baton = &s
			return n, err
		case 2:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			req.Batch, err = decodeBatchPB(v)
			return n, err
		}
		return -1, nil
	})
	return req, err
}

// streamReqTypes maps the StreamRequest oneof field numbers (HTTP) to
// request types.
var streamReqTypes = [...]string{1: "close", 2: "execute", 3: "batch", 4: "sequence", 5: "describe",
	6: "store_sql", 7: "close_sql", 8: "get_autocommit"}

// decodeStreamReqPB decodes a StreamRequest. A message with no known
// request leaves Type empty, which validate refuses.
func decodeStreamReqPB(msg []byte) (streamReq, error) {
	var r streamReq
	err := pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num < 1 || int(num) >= len(streamReqTypes) {
			return -1, nil
		}
		v, n, err := pbBytes(typ, b)
		if err != nil {
			return 0, err
		}
		r = streamReq{Type: streamReqTypes[num]}
		return n, decodeRequestBodyPB(&r, v, false)
	})
	return r, err
}

// decodeRequestBodyPB fills r (whose Type is set) from the request's
// message. The HTTP and WebSocket schemas differ only in field numbers:
// WebSocket requests carry stream_id first, shifting the others by one.
func decodeRequestBodyPB(r *streamReq, msg []byte, ws bool) error {
	shift := protowire.Number(0)
	if ws {
		shift = 1
	}
	return pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if ws && num == 1 && r.Type != "store_sql" && r.Type != "close_sql" && r.Type != "close_cursor" && r.Type != "fetch_cursor" {
			v, n, err := pbInt32(typ, b)
			r.StreamID = v
			return n, err
		}
		switch r.Type {
		case "execute":
			if num == 1+shift {
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				r.Stmt = new(stmt)
				return n, decodeStmtPB(r.Stmt, v)
			}
		case "batch":
			if num == 1+shift {
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				r.Batch, err = decodeBatchPB(v)
				return n, err
			}
		case "open_cursor":
			switch num {
			case 2:
				v, n, err := pbInt32(typ, b)
				r.CursorID = v
				return n, err
			case 3:
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				r.Batch, err = decodeBatchPB(v)
				return n, err
			}
		case "close_cursor", "fetch_cursor":
			switch num {
			case 1:
				v, n, err := pbInt32(typ, b)
				r.CursorID = v
				return n, err
			case 2:
				v, n, err := pbUint32(typ, b)
				r.MaxCount = &v
				return n, err
			}
		case "sequence", "describe":
			switch num {
			case 1 + shift:
				v, n, err := pbBytes(typ, b)
				s := string(v)
				r.SQL = &s
				return n, err
			case 2 + shift:
				v, n, err := pbInt32(typ, b)
				r.SQLID = &v
				return n, err
			}
		case "store_sql":
			switch num {
			case 1:
				v, n, err := pbInt32(typ, b)
				r.SQLID = &v
				return n, err
			case 2:
				v, n, err := pbBytes(typ, b)
				s := string(v)
				r.SQL = &s
				return n, err
			}
		case "close_sql":
			if num == 1 {
				v, n, err := pbInt32(typ, b)
				r.SQLID = &v
				return n, err
			}
		}
		return -1, nil
	})
}

func decodeStmtPB(s *stmt, msg []byte) error {
	return pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := pbBytes(typ, b)
			sql := string(v)
			s.SQL = &sql
			return n, err
		case 2:
			v, n, err := pbInt32(typ, b)
			s.SQLID = &v
			return n, err
		case 3:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			var val value
			err = decodeValuePB(&val, v)
			s.Args = append(s.Args, val)
			return n, err
		case 4:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			var na namedArg
			err = decodeNamedArgPB(&na, v)
			s.NamedArgs = append(s.NamedArgs, na)
			return n, err
		case 5:
			v, n, err := pbVarint(typ, b)
			want := v != 0
			s.WantRows = &want
			return n, err
		}
		return -1, nil
	})
}

func decodeNamedArgPB(na *namedArg, msg []byte) error {
	na.Value = value{Type: typeNull}
	return pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := pbBytes(typ, b)
			na.Name = string(v)
			return n, err
		case 2:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			return n, decodeValuePB(&na.Value, v)
		}
		return -1, nil
	})
}

// decodeValuePB decodes a Value; a message with no known value is NULL.
func decodeValuePB(v *value, msg []byte) error {
	*v = value{Type: typeNull}
	return pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			_, n, err := pbBytes(typ, b)
			*v = value{Type: typeNull}
			return n, err
		case 2:
			u, n, err := pbVarint(typ, b)
			*v = value{Type: typeInteger, Int: protowire.DecodeZigZag(u)}
			return n, err
		case 3:
			if typ != protowire.Fixed64Type {
				return 0, errTruncated
			}
			u, n := protowire.ConsumeFixed64(b)
			*v = value{Type: typeFloat, Float: math.Float64frombits(u)}
			if n < 0 {
				return 0, errTruncated
			}
			return n, nil
		case 4:
			s, n, err := pbBytes(typ, b)
			*v = value{Type: typeText, Text: string(s)}
			return n, err
		case 5:
			s, n, err := pbBytes(typ, b)
			*v = value{Type: typeBlob, Blob: append([]byte{}, s...)}
			return n, err
		}
		return -1, nil
	})
}

func decodeBatchPB(msg []byte) (*batch, error) {
	bt := &batch{}
	err := pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num != 1 {
			return -1, nil
		}
		v, n, err := pbBytes(typ, b)
		if err != nil {
			return 0, err
		}
		var step batchStep
		err = pbFields(v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
			switch num {
			case 1:
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				step.Condition, err = decodeCondPB(v, 0)
				return n, err
			case 2:
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				return n, decodeStmtPB(&step.Stmt, v)
			}
			return -1, nil
		})
		bt.Steps = append(bt.Steps, step)
		return n, err
	})
	return bt, err
}

// maxCondDepth bounds condition nesting, so a hostile body cannot recurse
// the decoder off the stack.
const maxCondDepth = 100

// decodeCondPB decodes a BatchCond. A condition with no known variant
// gets an empty Type, which checkCond refuses.
func decodeCondPB(msg []byte, depth int) (*batchCond, error) {
	if depth > maxCondDepth {
		return nil, fmt.Errorf("batch condition nested deeper than %d", maxCondDepth)
	}
	c := &batchCond{}
	err := pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 2:
			v, n, err := pbUint32(typ, b)
			c.Type = map[protowire.Number]string{1: "ok", 2: "error"}[num]
			c.Step = &v
			return n, err
		case 3:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			c.Type = "not"
			c.Cond, err = decodeCondPB(v, depth+1)
			return n, err
		case 4, 5:
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			c.Type = map[protowire.Number]string{4: "and", 5: "or"}[num]
			c.Conds = []batchCond{}
			err = pbFields(v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				if num != 1 {
					return -1, nil
				}
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				sub, err := decodeCondPB(v, depth+1)
				if sub != nil {
					c.Conds = append(c.Conds, *sub)
				}
				return n, err
			})
			return n, err
		case 6:
			_, n, err := pbBytes(typ, b)
			c.Type = "is_autocommit"
			return n, err
		}
		return -1, nil
	})
	return c, err
}

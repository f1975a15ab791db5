package hrana

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Hrana over WebSocket messages, in JSON and in Protobuf (the ws schema of
// the Hrana 3 specification: ClientMsg {hello = 1; request = 2},
// ServerMsg {hello_ok = 1; hello_error = 2; response_ok = 3;
// response_error = 4}, request and response oneofs numbered 2-13).

// wsReqField maps the RequestMsg/ResponseOkMsg oneof field numbers to
// request types.
var wsReqTypes = [...]string{2: "open_stream", 3: "close_stream", 4: "execute", 5: "batch", 6: "open_cursor",
	7: "close_cursor", 8: "fetch_cursor", 9: "sequence", 10: "describe", 11: "store_sql", 12: "close_sql", 13: "get_autocommit"}

var wsRespField = func() map[string]protowire.Number {
	m := map[string]protowire.Number{}
	for i, t := range wsReqTypes {
		if t != "" {
			m[t] = protowire.Number(i)
		}
	}
	return m
}()

// decodeClientMsgPB decodes a ClientMsg.
func decodeClientMsgPB(msg []byte) (wsClientMsg, error) {
	var m wsClientMsg
	err := pbFields(msg, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1: // HelloMsg {optional string jwt = 1}
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			m.Type = "hello"
			err = pbFields(v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				if num != 1 {
					return -1, nil
				}
				v, n, err := pbBytes(typ, b)
				jwt := string(v)
				m.JWT = &jwt
				return n, err
			})
			return n, err
		case 2: // RequestMsg {int32 request_id = 1; oneof request 2-13}
			v, n, err := pbBytes(typ, b)
			if err != nil {
				return 0, err
			}
			m.Type = "request"
			err = pbFields(v, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				if num == 1 {
					id, n, err := pbInt32(typ, b)
					m.RequestID = id
					return n, err
				}
				if num < 2 || int(num) >= len(wsReqTypes) {
					return -1, nil
				}
				v, n, err := pbBytes(typ, b)
				if err != nil {
					return 0, err
				}
				m.Request = &streamReq{Type: wsReqTypes[num]}
				return n, decodeRequestBodyPB(m.Request, v, true)
			})
			return n, err
		}
		return -1, nil
	})
	return m, err
}

func (s *wsSession) helloOK() []byte {
	if s.proto.enc == encProtobuf {
		return appendMsgHeader(nil, 1, 0)
	}
	return []byte(`{"type":"hello_ok"}`)
}

func (s *wsSession) helloError(e *hranaError) []byte {
	if s.proto.enc == encProtobuf {
		b := appendMsgHeader(nil, 2, sizeMsg(1, sizeErrorPB(e)))
		b = appendMsgHeader(b, 1, sizeErrorPB(e))
		return appendErrorPB(b, e)
	}
	b := append([]byte(nil), `{"type":"hello_error","error":`...)
	b = appendError(b, e)
	return append(b, '}')
}

func (s *wsSession) errorMsg(id int32, e *hranaError) []byte {
	if s.proto.enc == encProtobuf {
		size := sizeVarintField(1, uint64(id)) + sizeMsg(2, sizeErrorPB(e))
		b := appendMsgHeader(nil, 4, size)
		b = appendVarintField(b, 1, uint64(id))
		b = appendMsgHeader(b, 2, sizeErrorPB(e))
		return appendErrorPB(b, e)
	}
	b := append([]byte(nil), `{"type":"response_error","request_id":`...)
	b = appendInt(b, int(id))
	b = append(b, `,"error":`...)
	b = appendError(b, e)
	return append(b, '}')
}

func (s *wsSession) okMsg(id int32, r *streamResult) []byte {
	if s.proto.enc == encProtobuf {
		body := sizeWSResponseBodyPB(r)
		size := sizeVarintField(1, uint64(id)) + sizeMsg(wsRespField[r.Type], body)
		b := appendMsgHeader(make([]byte, 0, size+8), 3, size)
		b = appendVarintField(b, 1, uint64(id))
		b = appendMsgHeader(b, wsRespField[r.Type], body)
		return appendWSResponseBodyPB(b, r)
	}
	b := append(make([]byte, 0, 256), `{"type":"response_ok","request_id":`...)
	b = appendInt(b, int(id))
	b = append(b, `,"response":`...)
	if r.Type == "fetch_cursor" {
		b = append(b, `{"type":"fetch_cursor","entries":[`...)
		for i := range r.Cursor {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCursorEntryJSON(b, &r.Cursor[i])
		}
		b = append(b, `],"done":`...)
		if r.CursorDone {
			b = append(b, "true}"...)
		} else {
			b = append(b, "false}"...)
		}
	} else {
		b = appendResponse(b, r)
	}
	return append(b, '}')
}

// FetchCursorResp: repeated CursorEntry entries = 1; bool done = 2. The
// other responses have the same bodies as over HTTP.
func sizeWSResponseBodyPB(r *streamResult) int {
	if r.Type != "fetch_cursor" {
		return sizeResponseBodyPB(r)
	}
	n := sizeVarintField(2, 0)
	for i := range r.Cursor {
		n += protowire.SizeTag(1) + protowire.SizeBytes(sizeCursorEntryPB(&r.Cursor[i]))
	}
	return n
}

func appendWSResponseBodyPB(b []byte, r *streamResult) []byte {
	if r.Type != "fetch_cursor" {
		return appendResponseBodyPB(b, r)
	}
	for i := range r.Cursor {
		b = appendMsgHeader(b, 1, sizeCursorEntryPB(&r.Cursor[i]))
		b = appendCursorEntryPB(b, &r.Cursor[i])
	}
	return appendVarintField(b, 2, protowire.EncodeBool(r.CursorDone))
}

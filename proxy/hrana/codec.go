package hrana

import (
	"encoding/json"
	"fmt"
)

// encoding is how a request and its response are encoded: JSON (/v2, /v3,
// the hrana1-3 WebSocket subprotocols) or Protobuf (/v3-protobuf,
// hrana3-protobuf). Both decode into the same request types and encode the
// same results, so the executor never knows which one it serves.
type encoding uint8

const (
	encJSON encoding = iota
	encProtobuf
)

const contentProtobuf = "application/x-protobuf"

func (e encoding) contentType() string {
	if e == encProtobuf {
		return contentProtobuf
	}
	return contentJSON
}

func (e encoding) String() string {
	if e == encProtobuf {
		return "Protobuf"
	}
	return "JSON"
}

func (e encoding) decodePipeline(body []byte) (pipelineReq, error) {
	if e == encProtobuf {
		return decodePipelinePB(body)
	}
	var req pipelineReq
	err := json.Unmarshal(body, &req)
	return req, err
}

func (e encoding) decodeCursor(body []byte) (cursorReq, error) {
	if e == encProtobuf {
		return decodeCursorPB(body)
	}
	var req cursorReq
	err := json.Unmarshal(body, &req)
	return req, err
}

func (e encoding) appendPipelineResp(b []byte, baton string, results []streamResult) []byte {
	if e == encProtobuf {
		return appendPipelineRespPB(b, baton, results)
	}
	return appendPipelineResp(b, baton, results)
}

// appendCursorResp appends the cursor's first item, which carries the
// baton.
func (e encoding) appendCursorResp(b []byte, baton string) []byte {
	if e == encProtobuf {
		return appendCursorRespPB(b, baton)
	}
	b = append(b, `{"baton":`...)
	b = appendBaton(b, baton)
	return append(b, `,"base_url":null}`+"\n"...)
}

// appendCursorItem appends one cursor entry: a JSON line, or a
// length-delimited Protobuf CursorEntry.
func (e encoding) appendCursorItem(b []byte, c *cursorEntry) []byte {
	if e == encProtobuf {
		return appendCursorItemPB(b, c)
	}
	b = appendCursorEntryJSON(b, c)
	return append(b, '\n')
}

func appendCursorEntryJSON(b []byte, c *cursorEntry) []byte {
	switch c.kind {
	case 1:
		b = append(b, `{"type":"step_begin","step":`...)
		b = appendInt(b, c.step)
		b = append(b, `,"cols":`...)
		b = appendCols(b, c.cols)
	case 2:
		b = append(b, `{"type":"step_end","affected_row_count":`...)
		b = appendInt(b, int(c.res.AffectedRows))
		b = append(b, `,"last_insert_rowid":`...)
		b = appendRowid(b, c.res.LastInsertRowid)
	case 3:
		b = append(b, `{"type":"step_error","step":`...)
		b = appendInt(b, c.step)
		b = append(b, `,"error":`...)
		b = appendError(b, c.err)
	default:
		b = append(b, `{"type":"row","row":`...)
		b = appendRow(b, c.row)
	}
	return append(b, '}')
}

// decodeError is the protocol error for a body that does not decode.
func (e encoding) decodeError(err error) string {
	return fmt.Sprintf("Cannot deserialize client message from %s: %v", e, err)
}

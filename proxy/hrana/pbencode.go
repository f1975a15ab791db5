package hrana

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encoding of Hrana 3 Protobuf responses, from the executor's result types,
// with protowire. A nested message is written as its length then its
// bytes, so every message type has a size function alongside its append
// function (sizes first, then one pass writing; no buffer is moved).
// Field numbers are those of the Hrana 3 specification's schema.

func appendMsgHeader(b []byte, num protowire.Number, size int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(size))
}

func sizeMsg(num protowire.Number, size int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(size)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func sizeStringField(num protowire.Number, s string) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func sizeVarintField(num protowire.Number, v uint64) int {
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

// Value: oneof {Null null = 1; sint64 integer = 2; double float = 3;
// string text = 4; bytes blob = 5}.
func sizeValuePB(v *value) int {
	switch v.Type {
	case typeInteger:
		return sizeVarintField(2, protowire.EncodeZigZag(v.Int))
	case typeFloat:
		return protowire.SizeTag(3) + protowire.SizeFixed64()
	case typeText:
		return sizeStringField(4, v.Text)
	case typeBlob:
		return protowire.SizeTag(5) + protowire.SizeBytes(len(v.Blob))
	default:
		return sizeMsg(1, 0)
	}
}

func appendValuePB(b []byte, v *value) []byte {
	switch v.Type {
	case typeInteger:
		return appendVarintField(b, 2, protowire.EncodeZigZag(v.Int))
	case typeFloat:
		b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.Float))
	case typeText:
		return appendStringField(b, 4, v.Text)
	case typeBlob:
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		return protowire.AppendBytes(b, v.Blob)
	default:
		return appendMsgHeader(b, 1, 0)
	}
}

// Row: repeated Value values = 1.
func sizeRowPB(row []value) int {
	n := 0
	for i := range row {
		n += sizeMsg(1, sizeValuePB(&row[i]))
	}
	return n
}

func appendRowPB(b []byte, row []value) []byte {
	for i := range row {
		b = appendMsgHeader(b, 1, sizeValuePB(&row[i]))
		b = appendValuePB(b, &row[i])
	}
	return b
}

// Col: optional string name = 1; optional string decltype = 2.
func sizeColPB(c *col) int {
	n := sizeStringField(1, c.Name)
	if c.Decltype != nil {
		n += sizeStringField(2, *c.Decltype)
	}
	return n
}

func appendColPB(b []byte, c *col) []byte {
	b = appendStringField(b, 1, c.Name)
	if c.Decltype != nil {
		b = appendStringField(b, 2, *c.Decltype)
	}
	return b
}

func sizeColsPB(num protowire.Number, cols []col) int {
	n := 0
	for i := range cols {
		n += sizeMsg(num, sizeColPB(&cols[i]))
	}
	return n
}

func appendColsPB(b []byte, num protowire.Number, cols []col) []byte {
	for i := range cols {
		b = appendMsgHeader(b, num, sizeColPB(&cols[i]))
		b = appendColPB(b, &cols[i])
	}
	return b
}

// StmtResult: repeated Col cols = 1; repeated Row rows = 2;
// uint64 affected_row_count = 3; optional sint64 last_insert_rowid = 4.
func sizeStmtResultPB(r *stmtResult) int {
	n := sizeColsPB(1, r.Cols)
	for _, row := range r.Rows {
		n += sizeMsg(2, sizeRowPB(row))
	}
	n += sizeVarintField(3, uint64(r.AffectedRows))
	if r.LastInsertRowid != nil {
		n += sizeVarintField(4, protowire.EncodeZigZag(*r.LastInsertRowid))
	}
	return n
}

func appendStmtResultPB(b []byte, r *stmtResult) []byte {
	b = appendColsPB(b, 1, r.Cols)
	for _, row := range r.Rows {
		b = appendMsgHeader(b, 2, sizeRowPB(row))
		b = appendRowPB(b, row)
	}
	b = appendVarintField(b, 3, uint64(r.AffectedRows))
	if r.LastInsertRowid != nil {
		b = appendVarintField(b, 4, protowire.EncodeZigZag(*r.LastInsertRowid))
	}
	return b
}

// Error: string message = 1; optional string code = 2.
func sizeErrorPB(e *hranaError) int {
	return sizeStringField(1, e.Message) + sizeStringField(2, e.Code)
}

func appendErrorPB(b []byte, e *hranaError) []byte {
	b = appendStringField(b, 1, e.Message)
	return appendStringField(b, 2, e.Code)
}

// BatchResult: map<uint32, StmtResult> step_results = 1;
// map<uint32, Error> step_errors = 2. A map entry is {key = 1; value = 2}.
func sizeBatchResultPB(r *batchResult) int {
	n := 0
	for i, s := range r.StepResults {
		if s != nil {
			n += sizeMsg(1, sizeVarintField(1, uint64(i))+sizeMsg(2, sizeStmtResultPB(s)))
		}
	}
	for i, e := range r.StepErrors {
		if e != nil {
			n += sizeMsg(2, sizeVarintField(1, uint64(i))+sizeMsg(2, sizeErrorPB(e)))
		}
	}
	return n
}

func appendBatchResultPB(b []byte, r *batchResult) []byte {
	for i, s := range r.StepResults {
		if s != nil {
			size := sizeStmtResultPB(s)
			b = appendMsgHeader(b, 1, sizeVarintField(1, uint64(i))+sizeMsg(2, size))
			b = appendVarintField(b, 1, uint64(i))
			b = appendMsgHeader(b, 2, size)
			b = appendStmtResultPB(b, s)
		}
	}
	for i, e := range r.StepErrors {
		if e != nil {
			size := sizeErrorPB(e)
			b = appendMsgHeader(b, 2, sizeVarintField(1, uint64(i))+sizeMsg(2, size))
			b = appendVarintField(b, 1, uint64(i))
			b = appendMsgHeader(b, 2, size)
			b = appendErrorPB(b, e)
		}
	}
	return b
}

// DescribeResult: repeated DescribeParam params = 1 ({optional string
// name = 1}); repeated DescribeCol cols = 2; bool is_explain = 3;
// bool is_readonly = 4.
func sizeDescribePB(d *describeResult) int {
	n := 0
	for _, p := range d.Params {
		size := 0
		if p != nil {
			size = sizeStringField(1, *p)
		}
		n += sizeMsg(1, size)
	}
	n += sizeColsPB(2, d.Cols)
	return n + sizeVarintField(3, 0) + sizeVarintField(4, 0)
}

func appendDescribePB(b []byte, d *describeResult) []byte {
	for _, p := range d.Params {
		if p == nil {
			b = appendMsgHeader(b, 1, 0)
			continue
		}
		b = appendMsgHeader(b, 1, sizeStringField(1, *p))
		b = appendStringField(b, 1, *p)
	}
	b = appendColsPB(b, 2, d.Cols)
	b = appendVarintField(b, 3, protowire.EncodeBool(d.IsExplain))
	return appendVarintField(b, 4, protowire.EncodeBool(d.IsReadonly))
}

// responseBodyPB sizes and appends the body of an ok response of type t
// (the same in the HTTP StreamResponse and the WebSocket ResponseOkMsg:
// {result = 1} for execute, batch and describe, {is_autocommit = 1} for
// get_autocommit, empty otherwise).
func sizeResponseBodyPB(r *streamResult) int {
	switch r.Type {
	case "execute":
		return sizeMsg(1, sizeStmtResultPB(r.Stmt))
	case "batch":
		return sizeMsg(1, sizeBatchResultPB(r.Batch))
	case "describe":
		return sizeMsg(1, sizeDescribePB(r.Describe))
	case "get_autocommit":
		return sizeVarintField(1, 0)
	}
	return 0
}

func appendResponseBodyPB(b []byte, r *streamResult) []byte {
	switch r.Type {
	case "execute":
		b = appendMsgHeader(b, 1, sizeStmtResultPB(r.Stmt))
		return appendStmtResultPB(b, r.Stmt)
	case "batch":
		b = appendMsgHeader(b, 1, sizeBatchResultPB(r.Batch))
		return appendBatchResultPB(b, r.Batch)
	case "describe":
		b = appendMsgHeader(b, 1, sizeDescribePB(r.Describe))
		return appendDescribePB(b, r.Describe)
	case "get_autocommit":
		return appendVarintField(b, 1, protowire.EncodeBool(r.IsAutocommit))
	}
	return b
}

// httpRespField is the StreamResponse oneof field of each request type.
var httpRespField = map[string]protowire.Number{"close": 1, "execute": 2, "batch": 3, "sequence": 4,
	"describe": 5, "store_sql": 6, "close_sql": 7, "get_autocommit": 8}

// StreamResult: oneof {StreamResponse ok = 1; Error error = 2}.
func sizeStreamResultPB(r *streamResult) int {
	if r.Err != nil {
		return sizeMsg(2, sizeErrorPB(r.Err))
	}
	return sizeMsg(1, sizeMsg(httpRespField[r.Type], sizeResponseBodyPB(r)))
}

func appendStreamResultPB(b []byte, r *streamResult) []byte {
	if r.Err != nil {
		b = appendMsgHeader(b, 2, sizeErrorPB(r.Err))
		return appendErrorPB(b, r.Err)
	}
	body := sizeResponseBodyPB(r)
	b = appendMsgHeader(b, 1, sizeMsg(httpRespField[r.Type], body))
	b = appendMsgHeader(b, httpRespField[r.Type], body)
	return appendResponseBodyPB(b, r)
}

// PipelineRespBody: optional string baton = 1; optional string base_url =
// 2; repeated StreamResult results = 3.
func appendPipelineRespPB(b []byte, baton string, results []streamResult) []byte {
	if baton != "" {
		b = appendStringField(b, 1, baton)
	}
	for i := range results {
		b = appendMsgHeader(b, 3, sizeStreamResultPB(&results[i]))
		b = appendStreamResultPB(b, &results[i])
	}
	return b
}

// Cursor items are length-delimited: each is its size as a varint, then
// the message. The first is a CursorRespBody {optional string baton = 1;
// optional string base_url = 2}, then CursorEntry messages:
// oneof {StepBeginEntry step_begin = 1; StepEndEntry step_end = 2;
// StepErrorEntry step_error = 3; Row row = 4; Error error = 5}.

func appendCursorRespPB(b []byte, baton string) []byte {
	size := 0
	if baton != "" {
		size = sizeStringField(1, baton)
	}
	b = protowire.AppendVarint(b, uint64(size))
	if baton != "" {
		b = appendStringField(b, 1, baton)
	}
	return b
}

// StepBeginEntry: uint32 step = 1; repeated Col cols = 2.
func sizeStepBeginPB(step int, cols []col) int {
	return sizeVarintField(1, uint64(step)) + sizeColsPB(2, cols)
}

func appendStepBeginPB(b []byte, step int, cols []col) []byte {
	b = appendVarintField(b, 1, uint64(step))
	return appendColsPB(b, 2, cols)
}

// StepEndEntry: uint64 affected_row_count = 1; optional sint64
// last_insert_rowid = 2.
func sizeStepEndPB(r *stmtResult) int {
	n := sizeVarintField(1, uint64(r.AffectedRows))
	if r.LastInsertRowid != nil {
		n += sizeVarintField(2, protowire.EncodeZigZag(*r.LastInsertRowid))
	}
	return n
}

func appendStepEndPB(b []byte, r *stmtResult) []byte {
	b = appendVarintField(b, 1, uint64(r.AffectedRows))
	if r.LastInsertRowid != nil {
		b = appendVarintField(b, 2, protowire.EncodeZigZag(*r.LastInsertRowid))
	}
	return b
}

// StepErrorEntry: uint32 step = 1; Error error = 2.
func sizeStepErrorPB(step int, e *hranaError) int {
	return sizeVarintField(1, uint64(step)) + sizeMsg(2, sizeErrorPB(e))
}

func appendStepErrorPB(b []byte, step int, e *hranaError) []byte {
	b = appendVarintField(b, 1, uint64(step))
	b = appendMsgHeader(b, 2, sizeErrorPB(e))
	return appendErrorPB(b, e)
}

// cursorEntry is one entry of a cursor's output, as both encodings see it.
type cursorEntry struct {
	kind protowire.Number // CursorEntry field: 1 step_begin, 2 step_end, 3 step_error, 4 row
	step int
	cols []col
	res  *stmtResult
	err  *hranaError
	row  []value
}

func sizeCursorEntryPB(e *cursorEntry) int {
	switch e.kind {
	case 1:
		return sizeMsg(1, sizeStepBeginPB(e.step, e.cols))
	case 2:
		return sizeMsg(2, sizeStepEndPB(e.res))
	case 3:
		return sizeMsg(3, sizeStepErrorPB(e.step, e.err))
	default:
		return sizeMsg(4, sizeRowPB(e.row))
	}
}

func appendCursorEntryPB(b []byte, e *cursorEntry) []byte {
	switch e.kind {
	case 1:
		b = appendMsgHeader(b, 1, sizeStepBeginPB(e.step, e.cols))
		return appendStepBeginPB(b, e.step, e.cols)
	case 2:
		b = appendMsgHeader(b, 2, sizeStepEndPB(e.res))
		return appendStepEndPB(b, e.res)
	case 3:
		b = appendMsgHeader(b, 3, sizeStepErrorPB(e.step, e.err))
		return appendStepErrorPB(b, e.step, e.err)
	default:
		b = appendMsgHeader(b, 4, sizeRowPB(e.row))
		return appendRowPB(b, e.row)
	}
}

// appendCursorItemPB appends one length-delimited CursorEntry.
func appendCursorItemPB(b []byte, e *cursorEntry) []byte {
	b = protowire.AppendVarint(b, uint64(sizeCursorEntryPB(e)))
	return appendCursorEntryPB(b, e)
}

package hrana

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/shard/remote"
	"github.com/microfi/tenantgate/shard/sqlcheck"
)

// Statements sent in place of a batch step answered here, so the server's
// step numbering and conditions stay the client's: a refused step must
// fail there too (it compiles to nothing: no such table), a no-op step
// must succeed and do nothing.
const (
	placeholderRefused = `SELECT * FROM "tg_refused_by_tenantgate"`
	placeholderNoOp    = `SELECT 1 WHERE 0`
)

// plan is what becomes of one pipeline request.
type plan struct {
	local     *streamResult      // answered here; nil when forwarded
	index     int                // position in the server's pipeline
	steps     map[int]stepAnswer // batch steps answered here
	seqErr    *hranaError        // sequence: the refusal after the part sent
	verdicts  []sqlcheck.Verdict // of the statements sent
	forwarded bool
}

// stepAnswer replaces a batch step's result (when the server ran it).
type stepAnswer struct {
	err  *hranaError
	noop bool
}

// forward checks reqs and sends what passes to the tenant's server in one
// round trip, answering the rest here. An error means the round trip
// failed as a whole (the server stream is lost).
func (r *run) forward(c context.Context, reqs []streamReq) ([]streamResult, error) {
	schema, err := r.schema(c, false)
	if err != nil {
		return nil, err
	}
	sqls := maps.Clone(r.st.sqls)
	stmtsLeft, closed, charged := r.stmtsLeft, r.st.closed, r.charged
	plans, body, stale := r.plan(reqs, schema)
	if stale {
		// A statement did not compile against the copy: it may be out of
		// date (another proxy, or this stream, changed the schema). Read
		// it again on this stream and check once more.
		if schema, err = r.schema(c, true); err != nil {
			return nil, err
		}
		r.st.sqls, r.stmtsLeft, r.st.closed = sqls, stmtsLeft, closed
		r.refund(r.charged - charged)
		plans, body, _ = r.plan(reqs, schema)
	}
	var results []remote.Result
	if len(body) > 0 {
		if r.st.rs.Streamless() && r.txn {
			// A server without streams has one connection for everyone:
			// no transaction may outlive this request there.
			body = append(body, json.RawMessage(`{"type":"execute","stmt":{"sql":"ROLLBACK"}}`))
		}
		start := time.Now()
		results, err = r.st.rs.Pipeline(c, body)
		r.h.remote.trip(start, err)
		if err != nil {
			return nil, err
		}
	}
	if !r.st.rs.Open() && r.st.rs.Used() {
		r.st.closed = true // the server closed it (a close request, or its own reasons)
	}
	out := make([]streamResult, len(reqs))
	changed := false
	for i := range reqs {
		p := &plans[i]
		if p.local != nil {
			out[i] = *p.local
			continue
		}
		out[i] = r.answer(&reqs[i], p, &results[p.index])
		for _, v := range p.verdicts {
			r.h.metrics.observe(v.ReadOnly, time.Now())
			changed = changed || v.SchemaChange
		}
	}
	if changed {
		r.h.remote.schemas.Remove(r.st.tenantID)
	}
	return out, nil
}

// plan checks each request and builds the server's pipeline. stale
// reports a statement that failed to compile (not a refusal).
func (r *run) plan(reqs []streamReq, schema *sqlcheck.Schema) (plans []plan, body []json.RawMessage, stale bool) {
	sess := r.h.remote.checker.Session(schema, r.st.readOnly)
	defer sess.Release()
	plans = make([]plan, len(reqs))
	localErr := func(p *plan, typ string, e *hranaError) {
		p.local = &streamResult{Type: typ, Err: r.chargeErr(e)}
	}
	check := r.checker(sess, &stale)
	for i := range reqs {
		req, p := &reqs[i], &plans[i]
		if r.st.closed {
			localErr(p, req.Type, errf(codeStreamClosed, "the stream was closed by an earlier request in this pipeline"))
			continue
		}
		var msg []byte
		switch req.Type {
		case "execute":
			if req.Stmt == nil {
				localErr(p, req.Type, errf(codeNoStatement, "execute request without a stmt"))
				continue
			}
			sql, herr := r.resolveSQL(req.Stmt.SQL, req.Stmt.SQLID)
			if herr != nil {
				localErr(p, req.Type, herr)
				continue
			}
			v, herr := check(sql)
			switch {
			case herr != nil:
				localErr(p, req.Type, herr)
				continue
			case v.NoOp:
				p.local = &streamResult{Type: req.Type, Stmt: &stmtResult{Cols: []col{}, Rows: [][]value{}}}
				continue
			}
			p.verdicts = append(p.verdicts, v)
			msg = append([]byte(`{"type":"execute","stmt":`), nil...)
			msg = appendStmtJSON(msg, sql, req.Stmt)
			msg = append(msg, '}')
		case "batch":
			var steps []byte
			steps, p.steps, p.verdicts = r.planBatch(req.Batch, check)
			msg = append([]byte(`{"type":"batch","batch":`), steps...)
			msg = append(msg, '}')
		case "sequence":
			sql, herr := r.resolveSQL(req.SQL, req.SQLID)
			if herr != nil {
				localErr(p, req.Type, herr)
				continue
			}
			text, verdicts, herr, st := r.planSequence(sess, sql)
			stale = stale || st
			if text == "" {
				if herr != nil {
					localErr(p, req.Type, herr)
				} else {
					p.local = &streamResult{Type: req.Type}
				}
				continue
			}
			p.seqErr, p.verdicts = herr, verdicts
			msg = append([]byte(`{"type":"sequence","sql":`), nil...)
			msg = appendString(msg, text)
			msg = append(msg, '}')
		case "describe":
			sql, herr := r.resolveSQL(req.SQL, req.SQLID)
			if herr != nil {
				localErr(p, req.Type, herr)
				continue
			}
			if err := sess.Peek(sql); err != nil {
				stale = stale || isStale(err)
				localErr(p, req.Type, r.refusal(err))
				continue
			}
			msg = append([]byte(`{"type":"describe","sql":`), nil...)
			msg = appendString(msg, sql)
			msg = append(msg, '}')
		case "store_sql":
			localErr(p, req.Type, r.storeSQL(req))
			continue
		case "close_sql":
			if req.SQLID == nil {
				localErr(p, req.Type, errf(codeSQLNotFound, "close_sql without sql_id"))
				continue
			}
			delete(r.st.sqls, *req.SQLID)
			p.local = &streamResult{Type: req.Type}
			continue
		case "get_autocommit":
			msg = []byte(`{"type":"get_autocommit"}`)
		case "close":
			r.st.closed = true
			if len(body) == 0 && !r.st.rs.Open() || r.st.rs.Streamless() {
				p.local = &streamResult{Type: req.Type} // the server never saw this stream
				continue
			}
			msg = []byte(`{"type":"close"}`)
		}
		p.forwarded, p.index = true, len(body)
		body = append(body, msg)
	}
	return plans, body, stale
}

// checker returns the check of one statement (execute, batch step): it
// takes one statement from the request's budget; a compile failure that
// may come from a stale schema copy sets *stale.
func (r *run) checker(sess *sqlcheck.Session, stale *bool) func(string) (sqlcheck.Verdict, *hranaError) {
	return func(sql string) (sqlcheck.Verdict, *hranaError) {
		if _, herr := r.budget(time.Now()); herr != nil {
			return sqlcheck.Verdict{}, herr
		}
		v, err := sess.CheckOne(sql)
		if err != nil {
			*stale = *stale || isStale(err)
			return v, r.refusal(err)
		}
		r.txn = r.txn || v.Transaction
		return v, nil
	}
}

// planBatch checks a batch's steps and encodes the batch the server runs:
// the same steps and conditions, placeholders for the steps answered here.
func (r *run) planBatch(b *batch, check func(string) (sqlcheck.Verdict, *hranaError)) ([]byte, map[int]stepAnswer, []sqlcheck.Verdict) {
	var answers map[int]stepAnswer
	var verdicts []sqlcheck.Verdict
	out := append(make([]byte, 0, 128), `{"steps":[`...)
	for i := range b.Steps {
		step := &b.Steps[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '{')
		if step.Condition != nil {
			out = append(out, `"condition":`...)
			out = appendCondJSON(out, step.Condition)
			out = append(out, ',')
		}
		out = append(out, `"stmt":`...)
		sql, herr := r.resolveSQL(step.Stmt.SQL, step.Stmt.SQLID)
		var v sqlcheck.Verdict
		if herr == nil {
			v, herr = check(sql)
		}
		switch {
		case herr != nil:
			if answers == nil {
				answers = map[int]stepAnswer{}
			}
			answers[i] = stepAnswer{err: r.chargeErr(herr)}
			out = appendStmtJSON(out, placeholderRefused, nil)
		case v.NoOp:
			if answers == nil {
				answers = map[int]stepAnswer{}
			}
			answers[i] = stepAnswer{noop: true}
			out = appendStmtJSON(out, placeholderNoOp, nil)
		default:
			verdicts = append(verdicts, v)
			out = appendStmtJSON(out, sql, &step.Stmt)
		}
		out = append(out, '}')
	}
	return append(out, "]}"...), answers, verdicts
}

// planSequence checks a sequence's statements in order and returns the
// text to send (up to the first refusal, no-ops left out) and the refusal.
func (r *run) planSequence(sess *sqlcheck.Session, sql string) (text string, verdicts []sqlcheck.Verdict, herr *hranaError, stale bool) {
	var b strings.Builder
	for {
		v, tail, empty, err := sess.Check(sql)
		if err != nil {
			return b.String(), verdicts, r.refusal(err), isStale(err)
		}
		if empty {
			return b.String(), verdicts, nil, false
		}
		if _, herr := r.budget(time.Now()); herr != nil {
			return b.String(), verdicts, herr, false
		}
		r.txn = r.txn || v.Transaction
		if !v.NoOp {
			verdicts = append(verdicts, v)
			b.WriteString(sql[:len(sql)-len(tail)])
			b.WriteString("\n;\n")
		}
		sql = tail
	}
}

// answer maps the server's result of a forwarded request to the client's.
func (r *run) answer(req *streamReq, p *plan, res *remote.Result) streamResult {
	out := streamResult{Type: req.Type}
	if res.Type != "ok" {
		out.Err = r.chargeErr(serverError(res.Error))
		r.h.metrics.errors("sql").Inc()
		return out
	}
	switch req.Type {
	case "execute":
		var w struct {
			Result wireStmtResult `json:"result"`
		}
		if err := json.Unmarshal(res.Response, &w); err != nil {
			out.Err = r.chargeErr(errf("PROTOCOL_ERROR", "the tenant's server sent a result that does not decode: %v", err))
			return out
		}
		out.Stmt, out.Err = r.toResult(&w.Result)
	case "batch":
		out.Batch = r.batchAnswer(json.RawMessage(res.Response), len(req.Batch.Steps), p.steps)
	case "sequence":
		out.Err = r.chargeErr(p.seqErr)
	case "describe":
		var w struct {
			Result struct {
				Params []struct {
					Name *string `json:"name"`
				} `json:"params"`
				WireCols []struct {
					Name     string  `json:"name"`
					Decltype *string `json:"decltype"`
				} `json:"cols"`
				IsExplain  bool `json:"is_explain"`
				IsReadonly bool `json:"is_readonly"`
			} `json:"result"`
		}
		if err := json.Unmarshal(res.Response, &w); err != nil {
			out.Err = r.chargeErr(errf("PROTOCOL_ERROR", "the tenant's server sent a describe result that does not decode: %v", err))
			return out
		}
		d := &describeResult{IsExplain: w.Result.IsExplain, IsReadonly: w.Result.IsReadonly, Params: make([]*string, len(w.Result.Params)), Cols: make([]col, len(w.Result.WireCols))}
		for i, prm := range w.Result.Params {
			d.Params[i] = prm.Name
		}
		for i, c := range w.Result.WireCols {
			d.Cols[i] = col{Name: c.Name, Decltype: c.Decltype}
		}
		if !r.charge(describeSize(d)) {
			out.Err = r.tooLarge()
			return out
		}
		out.Describe = d
	case "get_autocommit":
		var w struct {
			IsAutocommit bool `json:"is_autocommit"`
		}
		json.Unmarshal(res.Response, &w)
		out.IsAutocommit = w.IsAutocommit
	}
	return out
}

// batchAnswer maps a server's batch result, putting back the steps
// answered here.
func (r *run) batchAnswer(raw json.RawMessage, n int, answers map[int]stepAnswer) *batchResult {
	var w struct {
		Result struct {
			StepResults []*wireStmtResult     `json:"step_results"`
			StepErrors  []*remote.ErrorObject `json:"step_errors"`
		} `json:"result"`
	}
	out := &batchResult{StepResults: make([]*stmtResult, n), StepErrors: make([]*hranaError, n)}
	if err := json.Unmarshal(raw, &w); err != nil || len(w.Result.StepResults) != n || len(w.Result.StepErrors) != n {
		for i := range out.StepErrors {
			out.StepErrors[i] = r.chargeErr(errf("PROTOCOL_ERROR", "the tenant's server sent a batch result that does not match the batch"))
		}
		return out
	}
	for i := 0; i < n; i++ {
		ran := w.Result.StepResults[i] != nil || w.Result.StepErrors[i] != nil
		if a, ok := answers[i]; ok {
			switch {
			case !ran:
			case a.err != nil:
				out.StepErrors[i] = a.err
			default:
				out.StepResults[i] = &stmtResult{Cols: []col{}, Rows: [][]value{}}
			}
			continue
		}
		switch {
		case w.Result.StepErrors[i] != nil:
			out.StepErrors[i] = r.chargeErr(serverError(w.Result.StepErrors[i]))
		case w.Result.StepResults[i] != nil:
			out.StepResults[i], out.StepErrors[i] = r.toResult(w.Result.StepResults[i])
		}
	}
	return out
}

// appendStmtJSON appends a Hrana stmt object with sql as its text and s's
// arguments (s may be nil).
func appendStmtJSON(b []byte, sql string, s *stmt) []byte {
	b = append(b, `{"sql":`...)
	b = appendString(b, sql)
	if s != nil {
		if len(s.Args) > 0 {
			b = append(b, `,"args":[`...)
			for i := range s.Args {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendValue(b, &s.Args[i])
			}
			b = append(b, ']')
		}
		if len(s.NamedArgs) > 0 {
			b = append(b, `,"named_args":[`...)
			for i := range s.NamedArgs {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = appendString(b, s.NamedArgs[i].Name)
				b = append(b, `,"value":`...)
				b = appendValue(b, &s.NamedArgs[i].Value)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		if s.WantRows != nil {
			b = append(b, `,"want_rows":`...)
			b = strconv.AppendBool(b, *s.WantRows)
		}
	}
	return append(b, '}')
}

// appendCondJSON appends a batch condition (validated already).
func appendCondJSON(b []byte, c *batchCond) []byte {
	b = append(b, `{"type":`...)
	b = appendString(b, c.Type)
	switch c.Type {
	case "ok", "error":
		b = append(b, `,"step":`...)
		b = strconv.AppendUint(b, uint64(*c.Step), 10)
	case "not":
		b = append(b, `,"cond":`...)
		b = appendCondJSON(b, c.Cond)
	case "and", "or":
		b = append(b, `,"conds":[`...)
		for i := range c.Conds {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCondJSON(b, &c.Conds[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// isStale reports a check failure that may come from an out-of-date copy
// of the schema (see stale).
func isStale(err error) bool { return stale(err) }

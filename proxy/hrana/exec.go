package hrana

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/fairshare"
	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// Per-request error codes (SQLite errors use SQLite's own, e.g.
// SQLITE_CONSTRAINT). The statement-shape ones are sqld's.
const (
	codeNoStatement    = "SQL_NO_STATEMENT"
	codeManyStatements = "SQL_MANY_STATEMENTS"
	codeArgsInvalid    = "ARGS_INVALID"
	codeArgsBoth       = "ARGS_BOTH_POSITIONAL_AND_NAMED"
	codeSQLNotFound    = "SQL_NOT_FOUND"
	codeSQLIDInUse     = "SQL_ID_IN_USE"
	codeSQLIDBoth      = "SQL_ID_AND_SQL"
	codeStoreTooMany   = "SQL_STORE_TOO_MANY"
	codeStoreTooLarge  = "SQL_STORE_TOO_LARGE"
	codeStreamClosed   = "STREAM_CLOSED"
	codeInvalidCond    = "BATCH_COND_INVALID"
	codeTooLarge       = "RESPONSE_TOO_LARGE"
	codeStmtLimit      = "STATEMENT_LIMIT"
	codeRequestTimeout = "REQUEST_TIMEOUT"
)

const (
	maxStoredSQL    = 50  // per HTTP stream (sqld's limit)
	maxStoredSQLWS  = 150 // per WebSocket session, shared by its streams (sqld's limit)
	maxStoredSQLLen = 5 * 1024
)

// run is the state of one HTTP request on a stream: the stream, and the
// budgets the limits leave.
type run struct {
	h         *Handler
	st        *stream
	v3        bool
	lim       Limits    // the tenant's limits, filled (Handler.limits)
	deadline  time.Time // end of this request's SQL time
	stmtsLeft int
	rowsLeft  int
	bytesLeft int              // response bytes left (budget.go)
	charged   int              // response bytes charged to the Handler's budget
	noRowCap  bool             // cursors page through results: only the byte cap applies
	txn       bool             // a statement forwarded to a remote tenant's server controls a transaction
	meter     *fairshare.Meter // the running statement's (arm), nil between statements
}

func (r *run) conn() *shard.RawConn { return r.st.conn }

// budget takes one statement from the request's budgets and returns the
// deadline for it, or an error when the request has run out.
func (r *run) budget(now time.Time) (time.Time, *hranaError) {
	if r.stmtsLeft <= 0 {
		r.h.metrics.errors("limit").Inc()
		return time.Time{}, errf(codeStmtLimit, "too many statements in one request (limit %d)", r.h.cfg.MaxStatementsPerRequest)
	}
	if !now.Before(r.deadline) {
		r.h.metrics.errors("timeout").Inc()
		return time.Time{}, errf(codeRequestTimeout, "the request ran out of time (limit %v)", r.h.cfg.RequestTimeout)
	}
	r.stmtsLeft--
	d := now.Add(r.lim.StatementTimeout)
	if r.deadline.Before(d) {
		d = r.deadline
	}
	return d, nil
}

// walPageSize is a tenant database's page size: what one page written to
// the WAL costs in bytes (the frame header aside).
const walPageSize = 4096

// arm bounds the next statement on c by deadline and meters it against the
// tenant's fair CPU share; the returned func disarms both. A heavy
// tenant's statement waits for its share here, before its first step; when
// it is refused one, arm returns the statement's error instead.
func (r *run) arm(c *shard.RawConn, deadline time.Time) (func(), *hranaError) {
	c.SetDeadline(deadline)
	m := r.h.cfg.Scheduler.Statement(r.st.tenantID, r.lim.CPUWeight, deadline)
	if m == nil {
		return func() { c.SetDeadline(time.Time{}) }, nil
	}
	pages := c.PagesWritten()
	r.meter = m
	disarm := func() {
		r.meter = nil
		c.SetDeadline(time.Time{})
		c.SetMeter(nil)
		m.Wrote((c.PagesWritten() - pages) * walPageSize)
		m.Done()
	}
	// Inside a transaction the stream may hold the tenant's writer slot: it
	// is not made to wait for a token before its statement (an API call of
	// the same tenant holding the token may be waiting for that slot); a
	// long statement still waits at its progress checks.
	if c.Autocommit() && !m.Start() {
		disarm()
		r.h.metrics.errors("timeout").Inc()
		return nil, &hranaError{Code: "SQLITE_INTERRUPT", Message: rawsqlite.CPUShareMessage}
	}
	c.SetMeter(m)
	return disarm, nil
}

func errf(code, format string, args ...any) *hranaError {
	return &hranaError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// sqlError converts a SQLite error into a Hrana error object.
func (r *run) sqlError(err error) *hranaError {
	var se *rawsqlite.Error
	if errors.As(err, &se) {
		switch se.Primary() {
		case rawsqlite.CodeAuth:
			r.h.metrics.errors("refused").Inc()
		case rawsqlite.CodeInterrupt:
			r.h.metrics.errors("timeout").Inc()
		default:
			r.h.metrics.errors("sql").Inc()
		}
		return &hranaError{Code: se.CodeName(), Message: se.Msg}
	}
	r.h.metrics.errors("internal").Inc()
	return &hranaError{Code: "SQLITE_INTERNAL", Message: err.Error()}
}

// resolveSQL returns the text of a statement given as sql or sql_id.
func (r *run) resolveSQL(sql *string, id *int32) (string, *hranaError) {
	switch {
	case sql != nil && id != nil:
		return "", errf(codeSQLIDBoth, "both sql and sql_id were given")
	case sql != nil:
		return *sql, nil
	case id != nil:
		text, ok := r.st.sqls[*id]
		if !ok {
			return "", errf(codeSQLNotFound, "SQL text %d not found", *id)
		}
		return text, nil
	default:
		return "", errf(codeNoStatement, "neither sql nor sql_id was given")
	}
}

// prepareOne prepares text that must hold exactly one statement.
func (r *run) prepareOne(sql string) (*rawsqlite.Stmt, *hranaError) {
	c := r.conn()
	if st, ok := c.Cached(sql); ok {
		return st, nil
	}
	st, tail, err := c.Prepare(sql)
	if err != nil {
		return nil, r.sqlError(err)
	}
	if st == nil {
		return nil, errf(codeNoStatement, "SQL string does not contain any statement")
	}
	if strings.TrimSpace(tail) != "" {
		next, _, err := c.Prepare(tail)
		if next != nil {
			next.Finalize()
		}
		if next != nil || err != nil {
			st.Finalize()
			return nil, errf(codeManyStatements, "SQL string contains more than one statement")
		}
	}
	return st, nil
}

// bind binds arguments following sqld's rules: bare "?" and "?NNN" take
// positional args; ":a", "@a", "$a" take the named arg with that exact
// name, else the one named "a". A parameter with no value stays NULL, as
// in SQLite (sqld refuses the statement instead; applications written
// against SQLite rely on NULL).
func bind(st *rawsqlite.Stmt, s *stmt) *hranaError {
	if len(s.Args) > 0 && len(s.NamedArgs) > 0 {
		return errf(codeArgsBoth, "statement has both positional and named arguments")
	}
	n := st.ParamCount()
	if len(s.Args) > n {
		return errf(codeArgsInvalid, "too many parameters: the statement takes %d, got %d", n, len(s.Args))
	}
	for i := 1; i <= n; i++ {
		name := st.ParamName(i)
		var v *value
		switch {
		case name == "":
			if i <= len(s.Args) {
				v = &s.Args[i-1]
			}
		case name[0] == '?':
			if k, err := strconv.Atoi(name[1:]); err == nil && k >= 1 && k <= len(s.Args) {
				v = &s.Args[k-1]
			}
		default:
			v = findNamed(s.NamedArgs, name)
		}
		if v == nil {
			continue // unbound: NULL (bindings are cleared before reuse)
		}
		if err := bindValue(st, i, v); err != nil {
			return errf(codeArgsInvalid, "bind parameter %d: %v", i, err)
		}
	}
	return nil
}

func findNamed(args []namedArg, name string) *value {
	for i := range args {
		if args[i].Name == name {
			return &args[i].Value
		}
	}
	bare := name[1:]
	for i := range args {
		if args[i].Name == bare {
			return &args[i].Value
		}
	}
	return nil
}

func bindValue(st *rawsqlite.Stmt, i int, v *value) error {
	switch v.Type {
	case typeInteger:
		return st.BindInt64(i, v.Int)
	case typeFloat:
		return st.BindFloat(i, v.Float)
	case typeText:
		return st.BindText(i, v.Text)
	case typeBlob:
		return st.BindBlob(i, v.Blob)
	default:
		return st.BindNull(i)
	}
}

// execute runs one statement and collects its result.
func (r *run) execute(s *stmt) (res *stmtResult, herr *hranaError) {
	sql, herr := r.resolveSQL(s.SQL, s.SQLID)
	if herr != nil {
		return nil, herr
	}
	deadline, herr := r.budget(time.Now())
	if herr != nil {
		return nil, herr
	}
	st, herr := r.prepareOne(sql)
	if herr != nil {
		return nil, herr
	}
	c := r.conn()
	defer c.Keep(sql, st)
	if herr := bind(st, s); herr != nil {
		return nil, herr
	}
	wantRows := s.WantRows == nil || *s.WantRows
	res = &stmtResult{Cols: columns(st), Rows: [][]value{}}
	readOnly := st.ReadOnly()
	// A heavy tenant's statement waits for its CPU share before it takes
	// the writer slot (arm).
	disarm, herr := r.arm(c, deadline)
	if herr != nil {
		return nil, herr
	}
	defer disarm()
	if !readOnly {
		if herr := r.enterWrite(deadline); herr != nil {
			return nil, herr
		}
	}
	defer r.leaveWrite() // COMMIT and ROLLBACK count as read-only statements
	beforeID := c.LastInsertRowID()
	beforeChanges := c.TotalChanges()
	start := time.Now()
	ncols := len(res.Cols)
	// A failed statement returns no rows, so it gives its budget back.
	rowsLeft, charged := r.rowsLeft, r.charged
	defer func() {
		if res == nil {
			r.rowsLeft = rowsLeft
			r.refund(r.charged - charged)
		}
	}()
	if !r.charge(colsSize(res.Cols)) {
		return nil, r.tooLarge()
	}
	for {
		row, err := st.Step()
		if err != nil {
			r.h.metrics.observe(readOnly, start)
			return nil, r.sqlError(err)
		}
		if !row {
			break
		}
		if !wantRows {
			continue
		}
		if r.rowsLeft--; r.rowsLeft < 0 && !r.noRowCap {
			r.h.metrics.errors("limit").Inc()
			return nil, errf(codeTooLarge, "response has too many rows (limit %d)", r.lim.MaxRowsPerResponse)
		}
		vals := make([]value, ncols)
		size := rowOverhead
		for i := range vals {
			readValue(st, i, &vals[i])
			size += valueSize(&vals[i])
		}
		if !r.charge(size) {
			return nil, r.tooLarge()
		}
		res.Rows = append(res.Rows, vals)
	}
	r.h.metrics.observe(readOnly, start)
	if !readOnly && c.TotalChanges() != beforeChanges {
		res.AffectedRows = c.Changes()
	}
	// An INSERT reports the rowid even when it equals the connection's
	// previous one (a pooled connection may have inserted rowid 1 into a
	// table since dropped), as sqld does.
	if id := c.LastInsertRowID(); id != beforeID || res.AffectedRows > 0 && isInsert(sql) {
		res.LastInsertRowid = &id
	}
	return res, nil
}

// isInsert reports whether a statement's first keyword (after comments
// and a WITH clause) is INSERT or REPLACE.
func isInsert(sql string) bool {
	s := strings.TrimLeft(sql, " \t\r\n(")
	for strings.HasPrefix(s, "--") || strings.HasPrefix(s, "/*") {
		end, skip := "\n", 1
		if s[1] == '*' {
			end, skip = "*/", 2
		}
		i := strings.Index(s, end)
		if i < 0 {
			return false
		}
		s = strings.TrimLeft(s[i+skip:], " \t\r\n(")
	}
	word := strings.ToLower(s[:min(len(s), 7)])
	switch {
	case strings.HasPrefix(word, "insert"), strings.HasPrefix(word, "replace"):
		return true
	case strings.HasPrefix(word, "with"):
		l := strings.ToLower(s)
		return strings.Contains(l, "insert") || strings.Contains(l, "replace")
	}
	return false
}

func columns(st *rawsqlite.Stmt) []col {
	n := st.ColumnCount()
	cols := make([]col, n)
	for i := range cols {
		cols[i].Name = st.ColumnName(i)
		if d, ok := st.ColumnDeclType(i); ok {
			cols[i].Decltype = &d
		}
	}
	return cols
}

// readValue reads column i in its storage class.
func readValue(st *rawsqlite.Stmt, i int, v *value) {
	switch st.ColumnType(i) {
	case rawsqlite.Integer:
		*v = value{Type: typeInteger, Int: st.ColumnInt64(i)}
	case rawsqlite.Float:
		*v = value{Type: typeFloat, Float: st.ColumnFloat(i)}
	case rawsqlite.Text:
		*v = value{Type: typeText, Text: st.ColumnText(i)}
	case rawsqlite.Blob:
		*v = value{Type: typeBlob, Blob: st.ColumnBlob(i)}
	default:
		*v = value{Type: typeNull}
	}
}

// stepState is what a batch condition sees of an earlier step.
type stepState uint8

const (
	stepSkipped stepState = iota
	stepOK
	stepFailed
)

// checkCond verifies that a condition only refers to earlier steps and uses
// is_autocommit only on v3.
func checkCond(c *batchCond, step int, v3 bool) error {
	switch c.Type {
	case "ok", "error":
		if c.Step == nil {
			return fmt.Errorf("condition %q needs a step", c.Type)
		}
		if int(*c.Step) >= step {
			return fmt.Errorf("condition of step %d refers to step %d, which is not an earlier step", step, *c.Step)
		}
	case "not":
		if c.Cond == nil {
			return fmt.Errorf(`condition "not" needs a cond`)
		}
		return checkCond(c.Cond, step, v3)
	case "and", "or":
		for i := range c.Conds {
			if err := checkCond(&c.Conds[i], step, v3); err != nil {
				return err
			}
		}
	case "is_autocommit":
		if !v3 {
			return fmt.Errorf(`condition "is_autocommit" needs Hrana 3 (/v3/pipeline)`)
		}
	default:
		return fmt.Errorf("unknown condition type %q", c.Type)
	}
	return nil
}

// eval evaluates a condition. Following the spec, "error" is true only for
// a step that ran and failed (sqld also counts skipped steps).
func (r *run) eval(c *batchCond, states []stepState) bool {
	switch c.Type {
	case "ok":
		return states[*c.Step] == stepOK
	case "error":
		return states[*c.Step] == stepFailed
	case "not":
		return !r.eval(c.Cond, states)
	case "and":
		for i := range c.Conds {
			if !r.eval(&c.Conds[i], states) {
				return false
			}
		}
		return true
	case "or":
		for i := range c.Conds {
			if r.eval(&c.Conds[i], states) {
				return true
			}
		}
		return false
	case "is_autocommit":
		return r.conn().Autocommit()
	}
	return false
}

// validateBatch checks every condition before anything runs.
func validateBatch(b *batch, v3 bool) error {
	if b == nil {
		return fmt.Errorf("batch request without a batch")
	}
	for i := range b.Steps {
		if c := b.Steps[i].Condition; c != nil {
			if err := checkCond(c, i, v3); err != nil {
				return err
			}
		}
	}
	return nil
}

// batch runs the steps in order; step errors go into the result.
func (r *run) batch(b *batch, each func(step int, res *stmtResult, err *hranaError)) *batchResult {
	n := len(b.Steps)
	out := &batchResult{StepResults: make([]*stmtResult, n), StepErrors: make([]*hranaError, n)}
	states := make([]stepState, n)
	for i := range b.Steps {
		step := &b.Steps[i]
		if step.Condition != nil && !r.eval(step.Condition, states) {
			continue
		}
		res, err := r.execute(&step.Stmt)
		err = r.chargeErr(err)
		if err != nil {
			states[i] = stepFailed
			out.StepErrors[i] = err
		} else {
			states[i] = stepOK
			out.StepResults[i] = res
		}
		if each != nil {
			each(i, res, err)
		}
	}
	return out
}

// sequence runs every statement of a text, without arguments, stopping at
// the first failure.
func (r *run) sequence(sql string) *hranaError {
	c := r.conn()
	for {
		st, tail, err := c.Prepare(sql)
		if err != nil {
			return r.sqlError(err)
		}
		if st == nil {
			return nil
		}
		start := time.Now()
		deadline, herr := r.budget(start)
		if herr != nil {
			st.Finalize()
			return herr
		}
		readOnly := st.ReadOnly()
		disarm, herr := r.arm(c, deadline)
		if herr != nil {
			st.Finalize()
			return herr
		}
		if !readOnly {
			if herr := r.enterWrite(deadline); herr != nil {
				disarm()
				st.Finalize()
				return herr
			}
		}
		for {
			row, err := st.Step()
			if err != nil {
				disarm()
				st.Finalize()
				r.leaveWrite()
				r.h.metrics.observe(readOnly, start)
				return r.sqlError(err)
			}
			if !row {
				break
			}
		}
		disarm()
		st.Finalize()
		r.leaveWrite()
		r.h.metrics.observe(readOnly, start)
		sql = tail
	}
}

// describe reports a statement's parameters and columns without running it.
func (r *run) describe(sql string) (*describeResult, *hranaError) {
	st, herr := r.prepareOne(sql)
	if herr != nil {
		return nil, herr
	}
	defer r.conn().Keep(sql, st)
	d := &describeResult{Cols: columns(st), IsExplain: st.IsExplain(), IsReadonly: st.ReadOnly()}
	d.Params = make([]*string, st.ParamCount())
	for i := range d.Params {
		if name := st.ParamName(i + 1); name != "" {
			d.Params[i] = &name
		}
	}
	if !r.charge(describeSize(d)) {
		return nil, r.tooLarge()
	}
	return d, nil
}

// request runs one pipeline request.
func (r *run) request(req *streamReq) streamResult {
	res := streamResult{Type: req.Type}
	if r.st.closed {
		res.Err = errf(codeStreamClosed, "the stream was closed by an earlier request in this pipeline")
		return res
	}
	switch req.Type {
	case "execute":
		if req.Stmt == nil {
			res.Err = errf(codeNoStatement, "execute request without a stmt")
			break
		}
		res.Stmt, res.Err = r.execute(req.Stmt)
	case "batch":
		res.Batch = r.batch(req.Batch, nil)
	case "sequence":
		sql, herr := r.resolveSQL(req.SQL, req.SQLID)
		if herr != nil {
			res.Err = herr
			break
		}
		res.Err = r.sequence(sql)
	case "describe":
		sql, herr := r.resolveSQL(req.SQL, req.SQLID)
		if herr != nil {
			res.Err = herr
			break
		}
		res.Describe, res.Err = r.describe(sql)
	case "store_sql":
		res.Err = r.storeSQL(req)
	case "close_sql":
		if req.SQLID == nil {
			res.Err = errf(codeSQLNotFound, "close_sql without sql_id")
			break
		}
		delete(r.st.sqls, *req.SQLID)
	case "get_autocommit":
		res.IsAutocommit = r.conn().Autocommit()
	case "close":
		r.st.closed = true
	}
	if res.Err != nil && res.Err.Code == codeArgsInvalid || res.Err != nil && res.Err.Code == codeArgsBoth {
		r.h.metrics.errors("args").Inc()
	}
	res.Err = r.chargeErr(res.Err)
	return res
}

func (r *run) storeSQL(req *streamReq) *hranaError {
	return r.storeSQLMax(req, maxStoredSQL)
}

func (r *run) storeSQLMax(req *streamReq, limit int) *hranaError {
	switch {
	case req.SQLID == nil || req.SQL == nil:
		return errf(codeSQLNotFound, "store_sql needs sql_id and sql")
	case len(*req.SQL) > maxStoredSQLLen:
		return errf(codeStoreTooLarge, "SQL text is too large to store (limit %d bytes)", maxStoredSQLLen)
	}
	if _, ok := r.st.sqls[*req.SQLID]; ok {
		return errf(codeSQLIDInUse, "SQL text id %d is already in use", *req.SQLID)
	}
	if len(r.st.sqls) >= limit {
		return errf(codeStoreTooMany, "too many stored SQL texts (limit %d)", limit)
	}
	if r.st.sqls == nil {
		r.st.sqls = make(map[int32]string)
	}
	r.st.sqls[*req.SQLID] = *req.SQL
	return nil
}

package move

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/microfi/tenantgate/shard/storage"
)

// ErrMismatch: the target does not hold what the snapshot holds.
var ErrMismatch = errors.New("copy does not match its source")

// Sum is a table's row count and content checksum.
type Sum struct {
	Rows int64  `json:"rows"`
	SHA  string `json:"sha256,omitempty"`
}

// Report is what a verification compared.
type Report struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	// Checked rows one by one (a delta's), when not the whole content.
	Checked int `json:"checked,omitempty"`
}

// Verify proves that target holds exactly the snapshot's rows: every data
// table's count and SHA-256 over its rows in key order (values with their
// storage class), the schema objects, and the stamp (id).
func Verify(ctx context.Context, snapshot string, target *sql.DB, id int64) (Report, error) {
	return verify(ctx, snapshot, target, id, true)
}

// VerifyCounts is the quick proof used while writes are fenced: the stamp,
// the schema objects and every table's row count (the rows the last delta
// wrote are checked by VerifyDelta).
func VerifyCounts(ctx context.Context, snapshot string, target *sql.DB, id int64) (Report, error) {
	return verify(ctx, snapshot, target, id, false)
}

func verify(ctx context.Context, snapshot string, target *sql.DB, id int64, full bool) (Report, error) {
	var rep Report
	snap, want, err := openMatching(ctx, snapshot, target, id)
	if err != nil {
		return rep, err
	}
	defer snap.Close()
	var tables []table
	for _, o := range want {
		if o.Type != "table" || skipData(o.Name) {
			continue
		}
		t, err := describe(ctx, snap, "main", o.Name, o.SQL)
		if err != nil {
			return rep, err
		}
		tables = append(tables, t)
	}
	if !full {
		// One round trip per side: every count in one query.
		wc, err := counts(ctx, snap, tables)
		if err != nil {
			return rep, err
		}
		gc, err := counts(ctx, target, tables)
		if err != nil {
			return rep, err
		}
		for i, t := range tables {
			if wc[i] != gc[i] {
				return rep, fmt.Errorf("%w: table %s: source %d rows, target %d", ErrMismatch, t.Name, wc[i], gc[i])
			}
			rep.Tables++
			rep.Rows += wc[i]
		}
		return rep, nil
	}
	for _, t := range tables {
		ws, err := checksum(ctx, snap, t, true)
		if err != nil {
			return rep, err
		}
		gs, err := checksum(ctx, target, t, true)
		if err != nil {
			return rep, err
		}
		if ws != gs {
			return rep, fmt.Errorf("%w: table %s: source %d rows %.12s, target %d rows %.12s", ErrMismatch, t.Name, ws.Rows, ws.SHA, gs.Rows, gs.SHA)
		}
		rep.Tables++
		rep.Rows += ws.Rows
	}
	return rep, nil
}

// counts reads every table's row count in one query.
func counts(ctx context.Context, q querier, tables []table) ([]int64, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = fmt.Sprintf("SELECT %d, count(*) FROM %s", i, ident(t.Name))
	}
	rows, err := fetch(ctx, q, strings.Join(parts, " UNION ALL "), 2)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(tables))
	for _, r := range rows {
		i, _ := r[0].(int64)
		n, _ := r[1].(int64)
		if i >= 0 && int(i) < len(out) {
			out[i] = n
		}
	}
	return out, nil
}

// VerifyDelta reads back every row the delta inserted or updated, by key
// (a batch of keys per query), and checks it is there with exactly those
// values, and that deleted keys are gone.
func VerifyDelta(ctx context.Context, target *sql.DB, d Delta) (int, error) {
	n := 0
	for _, td := range d.Tables {
		t := td.Table
		if t.Key == nil || strings.EqualFold(t.Name, "sqlite_sequence") {
			continue // compared whole by the counts and the next full verify
		}
		idx := keyIndex(t)
		row := "(" + placeholders(len(t.Key)) + ")"
		in := func(batch [][]any) string {
			return `(` + cols(t.Key, "", false) + `) IN (VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", len(batch)), ", ") + `)`
		}
		written := append(append([][]any{}, td.Updates...), td.Inserts...)
		for _, batch := range batches(written, len(t.Key)) {
			keys := make([][]any, len(batch))
			for i, r := range batch {
				keys[i] = pick(r, idx)
			}
			got, err := fetch(ctx, target, `SELECT `+cols(t.Cols, "", true)+` FROM `+ident(t.Name)+` WHERE `+in(keys), len(t.Cols), flatten(keys)...)
			if err != nil {
				return n, err
			}
			have := map[string]bool{}
			for _, g := range got {
				have[rowKey(g)] = true
			}
			for _, r := range batch {
				if !have[rowKey(r)] {
					return n, fmt.Errorf("%w: table %s: a row the last delta wrote reads back differently", ErrMismatch, t.Name)
				}
				n++
			}
		}
		for _, batch := range batches(td.Deletes, len(t.Key)) {
			got, err := fetch(ctx, target, `SELECT 1 FROM `+ident(t.Name)+` WHERE `+in(batch), 1, flatten(batch)...)
			if err != nil {
				return n, err
			}
			if len(got) != 0 {
				return n, fmt.Errorf("%w: table %s: a row the last delta deleted is still there", ErrMismatch, t.Name)
			}
			n += len(batch)
		}
	}
	return n, nil
}

// checksum counts a table's rows and, when full, hashes them in key order.
func checksum(ctx context.Context, q rowQuerier, t table, full bool) (Sum, error) {
	var s Sum
	if !full {
		err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+ident(t.Name)).Scan(&s.Rows)
		if err != nil {
			return s, fmt.Errorf("verify: count %s: %w", t.Name, err)
		}
		return s, nil
	}
	order := t.Key
	if order == nil {
		order = t.Cols
	}
	rows, err := q.QueryContext(ctx, `SELECT `+cols(t.Cols, "", true)+` FROM `+ident(t.Name)+` ORDER BY `+cols(order, "", false))
	if err != nil {
		return s, fmt.Errorf("verify: read %s: %w", t.Name, err)
	}
	defer rows.Close()
	h := sha256.New()
	vals := make([]any, len(t.Cols))
	ptrs := make([]any, len(t.Cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return s, err
		}
		buf = appendRow(buf[:0], vals)
		h.Write(buf)
		s.Rows++
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	s.SHA = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

type rowQuerier interface {
	querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// appendRow encodes values with their storage class, unambiguously.
func appendRow(b []byte, vals []any) []byte {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = append(b, 'i')
			b = binary.BigEndian.AppendUint64(b, uint64(x))
		case float64:
			b = append(b, 'f')
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		case string:
			b = append(b, 't')
			b = binary.BigEndian.AppendUint64(b, uint64(len(x)))
			b = append(b, x...)
		case []byte:
			b = append(b, 'b')
			b = binary.BigEndian.AppendUint64(b, uint64(len(x)))
			b = append(b, x...)
		case bool:
			b = append(b, 'i')
			var n uint64
			if x {
				n = 1
			}
			b = binary.BigEndian.AppendUint64(b, n)
		default:
			s := fmt.Sprint(x)
			b = append(b, '?')
			b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

func rowKey(vals []any) string { return string(appendRow(nil, vals)) }

func objectSet(objs []object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Type+" "+strings.ToLower(o.Name)+" "+normalizeSQL(o.SQL))
	}
	slices.Sort(out)
	return out
}

// normalizeSQL folds the whitespace SQLite may keep differently.
func normalizeSQL(s string) string { return strings.Join(strings.Fields(s), " ") }

func firstDiff(a, b []string) string {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return "missing on target: " + firstWords(x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return "extra on target: " + firstWords(x)
		}
	}
	return ""
}

// openMatching opens the snapshot at rest and checks what every
// verification starts with: both stamps name tenant id, and the target
// has the snapshot's schema objects. It returns the open snapshot (the
// caller closes it) and its schema.
func openMatching(ctx context.Context, snapshot string, target *sql.DB, id int64) (*sql.DB, []object, error) {
	if err := storage.CheckStamp(ctx, target, id); err != nil {
		return nil, nil, fmt.Errorf("%w: target: %w", ErrMismatch, err)
	}
	snap, err := openAtRest(ctx, snapshot)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*sql.DB, []object, error) {
		snap.Close()
		return nil, nil, err
	}
	if err := storage.CheckStamp(ctx, snap, id); err != nil {
		return fail(fmt.Errorf("%w: source: %w", ErrMismatch, err))
	}
	want, err := readSchema(ctx, snap, "main")
	if err != nil {
		return fail(err)
	}
	got, err := readSchema(ctx, target, "main")
	if err != nil {
		return fail(err)
	}
	if a, b := objectSet(want), objectSet(got); !slices.Equal(a, b) {
		return fail(fmt.Errorf("%w: schema objects differ: source %d, target %d (%s)", ErrMismatch, len(a), len(b), firstDiff(a, b)))
	}
	return snap, want, nil
}

package move

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// A move's fenced step must not read the whole source again: the front
// sends Sums of what the target holds (its base snapshot), the source
// sums the same ranges and returns only the rows of ranges that differ
// (Partial), and the diff looks only at those ranges (DiffPartial). A
// table keyed by its rowid is summed per bucket of bucketRows keys (the
// ledger is append-only, so a catch-up's new postings land in the last
// buckets); any other table is summed whole.
//
// Buckets hold 64 keys, or more in a big table: at most maxBuckets per
// table keeps the sums within the admin API's 64 KiB body limit for
// tenants of a few hundred thousand rows.
const (
	bucketShift = 6 // 64 keys per bucket
	maxBuckets  = 512
)

// Sums are per-table SHA-256 sums (truncated to 128 bits, hex) of a
// database's rows, by lower-case table name.
type Sums struct {
	Tables map[string]TableSums `json:"tables"`
}

// TableSums are one table's sums: per bucket of keys (key >> 6) for an
// IntKey table, else of the whole table.
type TableSums struct {
	Whole   string           `json:"whole,omitempty"`
	Buckets map[int64]string `json:"buckets,omitempty"`
	Shift   int              `json:"shift,omitempty"` // a bucket is key >> Shift
}

// SumFile sums a local database file (a move's base snapshot).
func SumFile(ctx context.Context, path string) (Sums, error) {
	db, err := openAtRest(ctx, path)
	if err != nil {
		return Sums{}, err
	}
	defer db.Close()
	objs, err := readSchema(ctx, db, "main")
	if err != nil {
		return Sums{}, err
	}
	tables, err := dataTables(ctx, db, objs)
	if err != nil {
		return Sums{}, err
	}
	return sumTables(ctx, db, tables)
}

// dataTables describes the tables whose rows a move copies.
func dataTables(ctx context.Context, q querier, objs []object) ([]table, error) {
	var out []table
	for _, o := range objs {
		if o.Type != "table" || skipData(o.Name) {
			continue
		}
		t, err := describe(ctx, q, "main", o.Name, o.SQL)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func sumTables(ctx context.Context, q querier, tables []table) (Sums, error) {
	return sumTablesLike(ctx, q, tables, Sums{})
}

// sumTablesLike sums tables with the bucket sizes of like (the other
// side's sums), or sized here for a table like does not have.
func sumTablesLike(ctx context.Context, q querier, tables []table, like Sums) (Sums, error) {
	s := Sums{Tables: map[string]TableSums{}}
	for _, t := range tables {
		shift := like.Tables[strings.ToLower(t.Name)].Shift
		if t.IntKey && (shift < bucketShift || shift > 62) {
			var err error
			if shift, err = bucketSize(ctx, q, t); err != nil {
				return s, err
			}
		}
		ts, err := sumTable(ctx, q, t, shift)
		if err != nil {
			return s, err
		}
		s.Tables[strings.ToLower(t.Name)] = ts
	}
	return s, nil
}

// sumTable hashes a table's rows in key order (values with their storage
// class, as Verify does), per bucket for an IntKey table.
func sumTable(ctx context.Context, q querier, t table, shift int) (TableSums, error) {
	var ts TableSums
	order := t.Key
	if order == nil {
		order = t.Cols
	}
	bucket := "0"
	if t.IntKey {
		bucket = ident(t.Key[0]) + " >> " + fmt.Sprint(shift)
		ts.Buckets, ts.Shift = map[int64]string{}, shift
	}
	rows, err := q.QueryContext(ctx, `SELECT `+bucket+`, `+cols(t.Cols, "", true)+` FROM `+ident(t.Name)+` ORDER BY `+cols(order, "", false))
	if err != nil {
		return ts, fmt.Errorf("sum %s: %w", t.Name, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.Cols)+1)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var (
		h    hash.Hash = sha256.New()
		cur  int64
		some bool
		buf  []byte
	)
	flush := func() {
		if some && t.IntKey {
			ts.Buckets[cur] = hex.EncodeToString(h.Sum(nil)[:16])
			h.Reset()
		}
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return ts, fmt.Errorf("sum %s: %w", t.Name, err)
		}
		b, _ := vals[0].(int64)
		if t.IntKey && (!some || b != cur) {
			flush()
			cur = b
		}
		some = true
		buf = appendRow(buf[:0], vals[1:])
		h.Write(buf)
	}
	if err := rows.Err(); err != nil {
		return ts, fmt.Errorf("sum %s: %w", t.Name, err)
	}
	flush()
	if !t.IntKey {
		ts.Whole = hex.EncodeToString(h.Sum(nil)[:16])
	}
	return ts, nil
}

// bucketSize is the shift that keeps t's key range within maxBuckets.
func bucketSize(ctx context.Context, q querier, t table) (int, error) {
	rows, err := fetch(ctx, q, `SELECT min(`+ident(t.Key[0])+`), max(`+ident(t.Key[0])+`) FROM `+ident(t.Name), 2)
	if err != nil {
		return 0, fmt.Errorf("sum %s: %w", t.Name, err)
	}
	lo, _ := rows[0][0].(int64)
	hi, _ := rows[0][1].(int64)
	shift := bucketShift
	for shift < 62 && (hi>>shift)-(lo>>shift) >= maxBuckets {
		shift++
	}
	return shift, nil
}

// scope is what differs between two Sums, per lower-case table name: the
// buckets of an IntKey table (as a JSON array, for json_each), or nil for
// the whole table. A table absent from scope is the same on both sides.
type scope map[string]tableScope

// tableScope is a table's differing buckets (key >> shift); nil buckets:
// the whole table.
type tableScope struct {
	buckets []int64
	shift   int
}

// changed compares have (the target's base) with want (the source).
func changed(have, want Sums) scope {
	sc := scope{}
	for name, w := range want.Tables {
		h, ok := have.Tables[name]
		switch {
		case !ok || (w.Buckets == nil) != (h.Buckets == nil) || w.Shift != h.Shift:
			sc[name] = tableScope{}
		case w.Buckets == nil:
			if w.Whole != h.Whole {
				sc[name] = tableScope{}
			}
		default:
			var bs []int64
			for b, sum := range w.Buckets {
				if h.Buckets[b] != sum {
					bs = append(bs, b)
				}
			}
			for b := range h.Buckets {
				if _, ok := w.Buckets[b]; !ok {
					bs = append(bs, b)
				}
			}
			if len(bs) > 0 {
				sc[name] = tableScope{buckets: bs, shift: w.Shift}
			}
		}
	}
	for name := range have.Tables {
		if _, ok := want.Tables[name]; !ok {
			sc[name] = tableScope{}
		}
	}
	return sc
}

// filter is the WHERE clause (and its argument) that picks a table's
// rows in scope: its buckets, or every row.
func (sc scope) filter(t table) (string, []any) {
	ts, ok := sc[strings.ToLower(t.Name)]
	if !ok || ts.buckets == nil || !t.IntKey {
		return "", nil
	}
	return ` WHERE (` + ident(t.Key[0]) + ` >> ` + fmt.Sprint(ts.shift) + `) IN (SELECT value FROM json_each(?))`, []any{jsonInts(ts.buckets)}
}

func jsonInts(v []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, x)
	}
	b.WriteByte(']')
	return b.String()
}

package move

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// metaPrefix names a partial snapshot's own tables (tenants cannot take
// the reserved prefix); readSchema leaves them out.
const metaPrefix = migrations.ReservedPrefix + "move_"

// ErrSchemaChanged: the source's schema is not the base's, so a partial
// delta cannot be used (the caller copies the whole snapshot instead).
var ErrSchemaChanged = errors.New("schema changed since the base snapshot")

// PartialInfo is what a partial snapshot holds.
type PartialInfo struct {
	Tables int   // tables with a range that differs
	Rows   int64 // rows copied
}

// Partial writes to the local file dst a partial snapshot of the local
// database at url, read in one transaction: its whole schema, its stamp,
// every table's row count (tg_move_counts), and only the rows of the
// ranges whose sums differ from have (listed in tg_move_ranges). A move's
// fenced step ships it instead of the whole database (see Sums).
func Partial(ctx context.Context, url string, have Sums, dst string) (PartialInfo, error) {
	var info PartialInfo
	if err := storage.RemoveFiles(dst); err != nil {
		return info, err
	}
	src, err := storage.OpenMode(ctx, url, storage.ReadOnly)
	if err != nil {
		return info, fmt.Errorf("partial snapshot: %w", err)
	}
	defer src.Close()
	tx, err := src.BeginTx(ctx, nil) // one read snapshot for sums, counts and rows
	if err != nil {
		return info, err
	}
	defer tx.Rollback()
	objs, err := readSchema(ctx, tx, "main")
	if err != nil {
		return info, err
	}
	tables, err := dataTables(ctx, tx, objs)
	if err != nil {
		return info, err
	}
	want, err := sumTablesLike(ctx, tx, tables, have)
	if err != nil {
		return info, err
	}
	sc := changed(have, want)
	n, err := counts(ctx, tx, tables)
	if err != nil {
		return info, err
	}
	if err := writePartial(ctx, tx, objs, tables, sc, n, dst, &info); err != nil {
		storage.RemoveFiles(dst)
		return info, fmt.Errorf("partial snapshot: %w", err)
	}
	return info, nil
}

func writePartial(ctx context.Context, src querier, objs []object, tables []table, sc scope, n []int64, dst string, info *PartialInfo) error {
	out, err := storage.Open(ctx, "file:"+dst)
	if err != nil {
		return err
	}
	defer out.Close()
	out.SetMaxOpenConns(1)
	// Only some rows: a copied row may reference one that is not here.
	if _, err := out.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	w, err := out.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer w.Rollback()
	exec := func(q string, args ...any) error {
		if _, err := w.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %w", firstWords(q), err)
		}
		return nil
	}
	for _, q := range []string{
		`CREATE TABLE ` + metaPrefix + `ranges (tbl TEXT NOT NULL, buckets TEXT, shift INTEGER NOT NULL)`,
		`CREATE TABLE ` + metaPrefix + `counts (tbl TEXT NOT NULL, n INTEGER NOT NULL)`,
	} {
		if err := exec(q); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.Type == "table" && !strings.HasPrefix(o.Name, "sqlite_") {
			if err := exec(o.SQL); err != nil {
				return err
			}
		}
	}
	// The stamp always (the target's is checked against it), then the
	// rows in scope, sqlite_sequence last.
	stamp, err := describe(ctx, src, "main", "tenant_stamp", "")
	if err == nil {
		if err := copyRowsWhere(ctx, src, w, stamp, "", nil); err != nil {
			return err
		}
	}
	ordered := slices.Clone(tables)
	slices.SortStableFunc(ordered, func(a, b table) int {
		return cmpBool(strings.EqualFold(a.Name, "sqlite_sequence"), strings.EqualFold(b.Name, "sqlite_sequence"))
	})
	for _, t := range ordered {
		ts, ok := sc[strings.ToLower(t.Name)]
		if !ok {
			continue
		}
		info.Tables++
		var arg any
		if ts.buckets != nil {
			arg = jsonInts(ts.buckets)
		}
		if err := exec(`INSERT INTO `+metaPrefix+`ranges (tbl, buckets, shift) VALUES (?, ?, ?)`, strings.ToLower(t.Name), arg, ts.shift); err != nil {
			return err
		}
		where, args := sc.filter(t)
		if err := copyRowsWhere(ctx, src, w, t, where, args); err != nil {
			return err
		}
	}
	for i, t := range tables {
		if err := exec(`INSERT INTO `+metaPrefix+`counts (tbl, n) VALUES (?, ?)`, strings.ToLower(t.Name), n[i]); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.Type == "table" || strings.HasPrefix(o.Name, "sqlite_") {
			continue
		}
		if err := exec(o.SQL); err != nil {
			return err
		}
	}
	for _, t := range tables {
		if _, ok := sc[strings.ToLower(t.Name)]; ok {
			var c int64
			if err := w.QueryRowContext(ctx, `SELECT count(*) FROM `+ident(t.Name)).Scan(&c); err != nil {
				return err
			}
			info.Rows += c
		}
	}
	return w.Commit()
}

// readPartial reads a partial snapshot's scope and the source's counts.
func readPartial(ctx context.Context, q querier) (scope, map[string]int64, error) {
	sc := scope{}
	rows, err := fetch(ctx, q, `SELECT tbl, buckets, shift FROM `+metaPrefix+`ranges`, 3)
	if err != nil {
		return nil, nil, fmt.Errorf("not a partial snapshot: %w", err)
	}
	for _, r := range rows {
		name, _ := r[0].(string)
		shift, _ := r[2].(int64)
		sc[name] = tableScope{}
		if js, ok := r[1].(string); ok {
			var bs []int64
			list, err := fetch(ctx, q, `SELECT value FROM json_each(?)`, 1, js)
			if err != nil {
				return nil, nil, err
			}
			for _, v := range list {
				b, ok := v[0].(int64)
				if !ok {
					return nil, nil, fmt.Errorf("partial snapshot: bad bucket in %s", name)
				}
				bs = append(bs, b)
			}
			if shift < bucketShift || shift > 62 {
				return nil, nil, fmt.Errorf("partial snapshot: bad bucket size for %s", name)
			}
			sc[name] = tableScope{buckets: bs, shift: int(shift)}
		}
	}
	cs, err := fetch(ctx, q, `SELECT tbl, n FROM `+metaPrefix+`counts`, 2)
	if err != nil {
		return nil, nil, fmt.Errorf("not a partial snapshot: %w", err)
	}
	n := map[string]int64{}
	for _, r := range cs {
		name, _ := r[0].(string)
		c, _ := r[1].(int64)
		n[name] = c
	}
	return sc, n, nil
}

// DiffPartial returns what turns base into the source a partial snapshot
// (Partial, made against base's Sums) was taken of, with the source's row
// counts for VerifyPartial. It fails with ErrSchemaChanged when the
// schemas differ: the caller then copies the whole snapshot.
func DiffPartial(ctx context.Context, partial, base string) (Delta, map[string]int64, error) {
	db, err := openAtRest(ctx, partial)
	if err != nil {
		return Delta{}, nil, fmt.Errorf("diff: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return Delta{}, nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS b`, storage.URI(base, storage.ReadOnly)); err != nil {
		return Delta{}, nil, fmt.Errorf("diff: attach base: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE b`)
	sc, n, err := readPartial(ctx, conn)
	if err != nil {
		return Delta{}, nil, err
	}
	p, err := readSchema(ctx, conn, "main")
	if err != nil {
		return Delta{}, nil, err
	}
	b, err := readSchema(ctx, conn, "b")
	if err != nil {
		return Delta{}, nil, err
	}
	if !slices.Equal(objectSet(p), objectSet(b)) {
		return Delta{}, nil, ErrSchemaChanged
	}
	var d Delta
	for _, o := range p {
		if o.Type != "table" || skipData(o.Name) {
			continue
		}
		if _, ok := sc[strings.ToLower(o.Name)]; !ok {
			continue // same on both sides
		}
		t, err := describe(ctx, conn, "main", o.Name, o.SQL)
		if err != nil {
			return d, nil, err
		}
		td, err := tableDiffIn(ctx, conn, t, sc)
		if err != nil {
			return d, nil, err
		}
		if len(td.Deletes)+len(td.Updates)+len(td.Inserts) > 0 {
			d.Tables = append(d.Tables, td)
		}
	}
	for i, t := range d.Tables {
		if strings.EqualFold(t.Table.Name, "sqlite_sequence") && i != len(d.Tables)-1 {
			d.Tables = append(append(d.Tables[:i:i], d.Tables[i+1:]...), t)
			break
		}
	}
	return d, n, nil
}

// VerifyPartial is VerifyCounts for a partial snapshot: the target's
// stamp, its schema objects against the snapshot's, and every table's
// row count against the source's.
func VerifyPartial(ctx context.Context, partial string, n map[string]int64, target *sql.DB, id int64) (Report, error) {
	var rep Report
	snap, want, err := openMatching(ctx, partial, target, id)
	if err != nil {
		return rep, err
	}
	defer snap.Close()
	tables, err := dataTables(ctx, snap, want)
	if err != nil {
		return rep, err
	}
	gc, err := counts(ctx, target, tables)
	if err != nil {
		return rep, err
	}
	for i, t := range tables {
		w, ok := n[strings.ToLower(t.Name)]
		if !ok || w != gc[i] {
			return rep, fmt.Errorf("%w: table %s: source %d rows, target %d", ErrMismatch, t.Name, w, gc[i])
		}
		rep.Tables++
		rep.Rows += w
	}
	return rep, nil
}

func openAtRest(ctx context.Context, path string) (*sql.DB, error) {
	return storage.OpenMode(ctx, "file:"+path, storage.ReadOnly)
}

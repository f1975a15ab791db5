package move

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Rows go in multi-row statements so a remote target takes a round trip
// per batch, not per row. A batch binds at most batchValues values (SQLite
// allows 32,766) and about batchBytes of data (a libSQL server caps request
// bodies: tenantgate at 8 MiB, and blobs travel as base64).
const (
	batchValues = 4000
	batchBytes  = 1 << 20
)

// Apply writes a delta to target in one transaction, foreign keys checked
// at commit (rows arrive in table order, not dependency order). Either all
// of it lands or none.
func Apply(ctx context.Context, target *sql.DB, d Delta) error {
	return apply(ctx, target, d, false)
}

// ApplyFenced applies a delta to a fenced database (Fence) in one
// transaction: the fence triggers are dropped inside it, the delta goes in
// and the fence is put back on every table before the commit, so the
// delta's own writes pass while no other writer ever sees the database
// unfenced. A restore or import into a live remote tenant uses it.
func ApplyFenced(ctx context.Context, target *sql.DB, d Delta) error {
	return apply(ctx, target, d, true)
}

func apply(ctx context.Context, target *sql.DB, d Delta, fenced bool) error {
	if d.Empty() {
		return nil
	}
	tx, err := target.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) error {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("apply: %s: %w", firstWords(q), err)
		}
		return nil
	}
	if err := exec(`PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	if fenced {
		names, err := fenceTriggers(ctx, tx)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		if len(names) == 0 {
			return fmt.Errorf("apply: the database is not fenced")
		}
		for _, n := range names {
			if err := exec(`DROP TRIGGER ` + ident(n)); err != nil {
				return err
			}
		}
	}
	for _, q := range d.Drop {
		if err := exec(q); err != nil {
			return err
		}
	}
	for _, q := range d.Create {
		if err := exec(q); err != nil {
			return err
		}
	}
	for _, td := range d.Tables {
		if err := applyTable(td, exec); err != nil {
			return err
		}
	}
	for _, q := range d.After {
		if err := exec(q); err != nil {
			return err
		}
	}
	if fenced {
		tables, err := userTables(ctx, tx)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		for _, q := range fenceStmts(tables) {
			if err := exec(q); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply: commit: %w", err)
	}
	return nil
}

func applyTable(td TableDelta, exec func(string, ...any) error) error {
	t := td.Table
	name := ident(t.Name)
	if strings.EqualFold(t.Name, "sqlite_sequence") {
		// Inserts into AUTOINCREMENT tables have moved it already: set
		// each counter to the source's exactly.
		for _, k := range td.Deletes {
			if err := exec(`DELETE FROM sqlite_sequence WHERE name = ?`, k[0]); err != nil {
				return err
			}
		}
		for _, r := range append(append([][]any{}, td.Updates...), td.Inserts...) {
			if err := exec(`DELETE FROM sqlite_sequence WHERE name = ?`, r[0]); err != nil {
				return err
			}
			if err := exec(`INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, r[0], r[1]); err != nil {
				return err
			}
		}
		return nil
	}
	if t.Key == nil {
		for _, r := range td.Deletes {
			if err := exec(`DELETE FROM `+name+` WHERE rowid IN (SELECT rowid FROM `+name+` WHERE `+match(t.Cols)+` LIMIT 1)`, r...); err != nil {
				return err
			}
		}
	} else {
		for _, batch := range batches(td.Deletes, len(t.Key)) {
			row := "(" + placeholders(len(t.Key)) + ")"
			q := `DELETE FROM ` + name + ` WHERE (` + cols(t.Key, "", false) + `) IN (VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", len(batch)), ", ") + `)`
			if err := exec(q, flatten(batch)...); err != nil {
				return err
			}
		}
	}
	if len(td.Updates) > 0 {
		set := make([]string, len(t.Cols))
		for i, c := range t.Cols {
			set[i] = ident(c) + " = ?"
		}
		idx := keyIndex(t)
		for _, r := range td.Updates {
			args := append(append([]any{}, r...), pick(r, idx)...)
			if err := exec(`UPDATE `+name+` SET `+strings.Join(set, ", ")+` WHERE `+match(t.Key), args...); err != nil {
				return err
			}
		}
	}
	for _, batch := range batches(td.Inserts, len(t.Cols)) {
		row := "(" + placeholders(len(t.Cols)) + ")"
		q := `INSERT INTO ` + name + ` (` + cols(t.Cols, "", false) + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", len(batch)), ", ")
		if err := exec(q, flatten(batch)...); err != nil {
			return err
		}
	}
	return nil
}

// keyIndex is where each key column sits among t.Cols.
func keyIndex(t table) []int {
	out := make([]int, len(t.Key))
	for i, k := range t.Key {
		for j, c := range t.Cols {
			if strings.EqualFold(c, k) {
				out[i] = j
			}
		}
	}
	return out
}

func pick(r []any, idx []int) []any {
	out := make([]any, len(idx))
	for i, j := range idx {
		out[i] = r[j]
	}
	return out
}

// batches splits rows so no statement binds more than batchValues values
// or much more than batchBytes (a single bigger row goes alone).
func batches(rows [][]any, width int) [][][]any {
	per := max(batchValues/max(width, 1), 1)
	var out [][][]any
	start, size := 0, 0
	for i, r := range rows {
		rs := rowSize(r)
		if i > start && (i-start >= per || size+rs > batchBytes) {
			out = append(out, rows[start:i])
			start, size = i, 0
		}
		size += rs
	}
	if start < len(rows) {
		out = append(out, rows[start:])
	}
	return out
}

func rowSize(r []any) int {
	n := 0
	for _, v := range r {
		switch x := v.(type) {
		case string:
			n += len(x) + 8
		case []byte:
			n += len(x)*4/3 + 8
		default:
			n += 16
		}
	}
	return n
}

func flatten(rows [][]any) []any {
	var out []any
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

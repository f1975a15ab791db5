package move

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/microfi/tenantgate/shard/storage"
)

// Snapshot writes a transactionally consistent copy of the database at url
// to the local file dst (replaced if there). A local database is copied
// with VACUUM INTO; a remote one is read in one transaction over libSQL
// and rebuilt: tables, then rows, then indexes, views and triggers (so
// none fires while the rows go in).
func Snapshot(ctx context.Context, url, dst string) error {
	if err := storage.RemoveFiles(dst); err != nil {
		return err
	}
	if !storage.IsRemote(url) {
		db, err := storage.OpenMode(ctx, url, storage.ReadOnly)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		return nil
	}
	src, err := storage.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer src.Close()
	if err := readRemote(ctx, src, dst); err != nil {
		storage.RemoveFiles(dst)
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

func readRemote(ctx context.Context, src *sql.DB, dst string) error {
	tx, err := src.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	objs, err := readSchema(ctx, tx, "main")
	if err != nil {
		return err
	}
	out, err := storage.Open(ctx, "file:"+dst)
	if err != nil {
		return err
	}
	defer out.Close()
	out.SetMaxOpenConns(1)
	w, err := out.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer w.Rollback()
	for _, o := range objs {
		if o.Type != "table" || strings.HasPrefix(o.Name, "sqlite_") {
			continue
		}
		if _, err := w.ExecContext(ctx, o.SQL); err != nil {
			return fmt.Errorf("create %s: %w", o.Name, err)
		}
	}
	names := []table{}
	for _, o := range objs {
		if o.Type == "table" {
			t, err := describe(ctx, tx, "main", o.Name, o.SQL)
			if err != nil {
				return err
			}
			names = append(names, t)
		}
	}
	// sqlite_sequence last: copying the other tables' rows moves it too.
	slices.SortStableFunc(names, func(a, b table) int {
		return cmpBool(strings.EqualFold(a.Name, "sqlite_sequence"), strings.EqualFold(b.Name, "sqlite_sequence"))
	})
	for _, t := range names {
		if err := copyRowsWhere(ctx, tx, w, t, "", nil); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.Type == "table" || strings.HasPrefix(o.Name, "sqlite_") {
			continue
		}
		if _, err := w.ExecContext(ctx, o.SQL); err != nil {
			return fmt.Errorf("create %s %s: %w", o.Type, o.Name, err)
		}
	}
	return w.Commit()
}

// copyRowsWhere copies the rows of t from src to w that where (with
// args; "" for every row) picks.
func copyRowsWhere(ctx context.Context, src querier, w *sql.Tx, t table, where string, args []any) error {
	rows, err := src.QueryContext(ctx, `SELECT `+cols(t.Cols, "", true)+` FROM `+ident(t.Name)+where, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	ins := `INSERT INTO ` + ident(t.Name) + ` (` + cols(t.Cols, "", false) + `) VALUES (` + placeholders(len(t.Cols)) + `)`
	if strings.EqualFold(t.Name, "sqlite_sequence") {
		// The rows copied above made some entries already: set them.
		if _, err := w.ExecContext(ctx, `DELETE FROM sqlite_sequence`); err != nil {
			return fmt.Errorf("copy %s: %w", t.Name, err)
		}
	}
	st, err := w.PrepareContext(ctx, ins)
	if err != nil {
		return fmt.Errorf("copy %s: %w", t.Name, err)
	}
	defer st.Close()
	vals := make([]any, len(t.Cols))
	ptrs := make([]any, len(t.Cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", t.Name, err)
		}
		if _, err := st.ExecContext(ctx, vals...); err != nil {
			return fmt.Errorf("copy %s: %w", t.Name, err)
		}
	}
	return rows.Err()
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

package seal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// Raw adapts a SQL-engine connection. Its queries run with the safety
// policy lifted, so call it only with the audit's own statements.
func Raw(c *rawsqlite.Conn) Conn { return rawConn{c} }

type rawConn struct{ c *rawsqlite.Conn }

func (r rawConn) Query(_ context.Context, query string) ([][]string, error) {
	var out [][]string
	err := r.c.Internal(func() error {
		st, _, err := r.c.Prepare(query)
		if err != nil {
			return err
		}
		if st == nil {
			return nil
		}
		defer st.Finalize()
		for {
			row, err := st.Step()
			if err != nil || !row {
				return err
			}
			vals := make([]string, st.ColumnCount())
			for i := range vals {
				vals[i] = st.ColumnText(i)
			}
			out = append(out, vals)
		}
	})
	return out, err
}

func (r rawConn) Probe(_ context.Context, query string) ([]rawsqlite.Access, error) {
	return r.c.Probe(query)
}

// SQL adapts one connection of a modernc.org/sqlite database/sql pool.
// restore is the authorizer the connection carries outside probes (nil:
// none).
func SQL(c *sql.Conn, restore sqlite.AuthorizerFn) Conn { return sqlConn{c, restore} }

type sqlConn struct {
	c       *sql.Conn
	restore sqlite.AuthorizerFn
}

func (s sqlConn) Query(ctx context.Context, query string) ([][]string, error) {
	rows, err := s.c.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (s sqlConn) Probe(ctx context.Context, query string) ([]rawsqlite.Access, error) {
	var got []rawsqlite.Access
	err := s.c.Raw(func(dc any) error {
		reg, ok := dc.(sqlite.AuthorizerRegisterer)
		prep, ok2 := dc.(driver.ConnPrepareContext)
		if !ok || !ok2 {
			return fmt.Errorf("probe: driver connection %T cannot be probed", dc)
		}
		err := reg.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, a1, a2, _, via string) sqlite.AuthorizerReturnCode {
			got = append(got, rawsqlite.Access{Action: int(action), Arg1: a1, Arg2: a2, Via: via})
			return sqlite.AuthorizerOK
		})
		if err != nil {
			return err
		}
		st, perr := prep.PrepareContext(ctx, query)
		if perr == nil {
			st.Close()
		}
		return errors.Join(perr, reg.RegisterAuthorizer(s.restore))
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

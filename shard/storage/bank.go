package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// OpenBank opens the pool the bank API runs on for a local tenant
// database. Each connection is defensive (mode Bank: DEFENSIVE,
// trusted_schema off, synchronous=FULL), carries the SQL engine's limits (no
// ATTACH, values up to rawsqlite.MaxValueLength) and auth as its
// authorizer (seal.BankAuthorizer: nothing a tenant's own trigger, view or
// foreign key would make the bank's statements do). Statements are bounded
// by their context (the request deadline): the driver interrupts them.
func OpenBank(ctx context.Context, path string, auth sqlite.AuthorizerFn) (*sql.DB, error) {
	return OpenBankWith(ctx, path, auth, nil, 0)
}

// OpenBankWith is OpenBank with connecting, which is asked before each new
// connection of the pool is opened (the caller's descriptor budget, say):
// its error fails the connection, and so the statement that needed it;
// and with the tenant's storage quota: every connection starts with PRAGMA
// max_page_count=maxPages (0 = no quota), set before the authorizer is
// installed, so a write that would grow the file past it fails with
// SQLITE_FULL (IsFull). A pool keeps its quota for life.
func OpenBankWith(ctx context.Context, path string, auth sqlite.AuthorizerFn, connecting func(context.Context) error, maxPages int64) (*sql.DB, error) {
	dsn := DSN(path, Bank)
	if maxPages > 0 {
		dsn += "&" + url.Values{"_pragma": {fmt.Sprintf("max_page_count(%d)", maxPages)}}.Encode()
	}
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := sql.OpenDB(bankConnector{base, auth, connecting})
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

type bankConnector struct {
	driver.Connector
	auth       sqlite.AuthorizerFn
	connecting func(context.Context) error
}

func (b bankConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if b.connecting != nil {
		if err := b.connecting(ctx); err != nil {
			return nil, err
		}
	}
	c, err := b.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := refuseReadOnly(c); err != nil {
		c.Close()
		return nil, err
	}
	if err := setLimits(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	reg, ok := c.(sqlite.AuthorizerRegisterer)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("bank connection %T has no authorizer", c)
	}
	if err := reg.RegisterAuthorizer(b.auth); err != nil {
		c.Close()
		return nil, fmt.Errorf("bank authorizer: %w", err)
	}
	return c, nil
}

// setLimits applies the SQL engine's limits to one new connection. The
// driver sets limits only through a *sql.Conn, so the connection is lent to
// a one-connection pool for the call.
func setLimits(ctx context.Context, c driver.Conn) error {
	db := sql.OpenDB(lentConnector{c})
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, l := range []struct{ id, v int }{
		{sqlite3.SQLITE_LIMIT_ATTACHED, 0},
		{sqlite3.SQLITE_LIMIT_LENGTH, rawsqlite.MaxValueLength},
	} {
		if _, err := sqlite.Limit(conn, l.id, l.v); err != nil {
			return fmt.Errorf("set limit %d: %w", l.id, err)
		}
	}
	return nil
}

// lentConnector hands out one connection that its pool must not close.
type lentConnector struct{ c driver.Conn }

func (l lentConnector) Connect(context.Context) (driver.Conn, error) { return lent{l.c}, nil }
func (l lentConnector) Driver() driver.Driver                        { return nil }

type lent struct{ driver.Conn }

func (l lent) Close() error        { return nil }
func (l lent) Unwrap() driver.Conn { return l.Conn }

// refuseReadOnly refuses a connection SQLite could only open read-only:
// it falls back to read-only when it cannot open the file for writing (out
// of descriptors, say), and in the pool such a connection would fail every
// write that lands on it for as long as it lives, which for a busy tenant
// is until the database closes. As rawsqlite.Open does for raw ones.
func refuseReadOnly(c driver.Conn) error {
	ro, ok := c.(interface{ IsReadOnly(string) (bool, error) })
	if !ok {
		return nil
	}
	if readOnly, err := ro.IsReadOnly("main"); err != nil || !readOnly {
		return nil
	}
	return errOpenedReadOnly{}
}

// errOpenedReadOnly carries SQLITE_CANTOPEN, so IsServerUnavailable (503)
// treats it like any file that cannot be opened just now.
type errOpenedReadOnly struct{}

func (errOpenedReadOnly) Error() string {
	return "unable to open database file for writing (SQLite could only open it read-only)"
}
func (errOpenedReadOnly) Code() int { return sqlite3.SQLITE_CANTOPEN }

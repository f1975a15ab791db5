// Package floor is the physical floor for tenantgate's saturation
// comparison: a minimal fasthttp server that answers GET /api/accounts and
// GET /api/accounts/{id} with a point read from one SQLite file per tenant
// (the same table shape and JSON as the proxy), and nothing else — no
// tokens, no catalog, no metrics. Whatever the proxy costs above this
// server is the price of its routing, auth and bookkeeping.
package floor

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"
	_ "modernc.org/sqlite" // the same driver as the proxy's shards

	"github.com/microfi/tenantgate/shard/storage"
)

// Server serves the floor endpoints for tenants named <Prefix>00001….
type Server struct {
	DataDir    string
	RootDomain string
	Prefix     string

	mu  sync.RWMutex
	dbs map[string]*tenantDB // by host label
}

type tenantDB struct {
	id   int64
	db   *sql.DB
	list *sql.Stmt
	one  *sql.Stmt
}

const schema = `CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  type TEXT NOT NULL, currency TEXT NOT NULL, balance INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active', created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX IF NOT EXISTS idx_accounts_tenant_id ON accounts(tenant_id);`

// Hosts returns the host labels of n floor tenants.
func Hosts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i+1)
	}
	return out
}

func open(path string) (*sql.DB, error) {
	db, err := storage.Open(context.Background(), "file:"+path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, nil
}

// Prepare creates n tenant databases under dir with accounts accounts each
// (ids 1..accounts). Existing files are reused.
func Prepare(ctx context.Context, dir, prefix string, n, accounts int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	for i, h := range Hosts(prefix, n) {
		path := filepath.Join(dir, h+".db")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		db, err := open(path)
		if err != nil {
			return fmt.Errorf("floor: open %s: %w", path, err)
		}
		if _, err := db.ExecContext(ctx, schema); err != nil {
			db.Close()
			return fmt.Errorf("floor: schema %s: %w", path, err)
		}
		for a := 0; a < accounts; a++ {
			typ := []string{"savings", "current"}[a%2]
			if _, err := db.ExecContext(ctx, "INSERT INTO accounts (tenant_id, user_id, type, currency, balance) VALUES (?, ?, ?, 'GHS', 1000000000)", i+1, a/2+1, typ); err != nil {
				db.Close()
				return fmt.Errorf("floor: seed %s: %w", path, err)
			}
		}
		db.Close()
	}
	return nil
}

// Open opens every tenant database of n tenants.
func (s *Server) Open(ctx context.Context, n int) error {
	s.dbs = map[string]*tenantDB{}
	for i, h := range Hosts(s.Prefix, n) {
		db, err := open(filepath.Join(s.DataDir, h+".db"))
		if err != nil {
			return fmt.Errorf("floor: open %s: %w", h, err)
		}
		t := &tenantDB{id: int64(i + 1), db: db}
		if t.list, err = db.PrepareContext(ctx, "SELECT id, tenant_id, user_id, type, currency, balance, status, created_at FROM accounts WHERE tenant_id = ? ORDER BY id"); err != nil {
			return fmt.Errorf("floor: prepare %s: %w", h, err)
		}
		if t.one, err = db.PrepareContext(ctx, "SELECT id, tenant_id, user_id, type, currency, balance, status, created_at FROM accounts WHERE tenant_id = ? AND id = ?"); err != nil {
			return fmt.Errorf("floor: prepare %s: %w", h, err)
		}
		s.dbs[h] = t
	}
	return nil
}

// Close closes the databases.
func (s *Server) Close() {
	for _, t := range s.dbs {
		t.db.Close()
	}
}

// Serve serves HTTP on ln until it is closed.
func (s *Server) Serve(ln net.Listener) error {
	srv := &fasthttp.Server{Handler: s.Handle, Concurrency: 100000}
	return srv.Serve(ln)
}

type account struct {
	ID        int64  `json:"id"`
	TenantID  int64  `json:"tenant_id"`
	UserID    int64  `json:"user_id"`
	Type      string `json:"type"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

var accountsPrefix = []byte("/api/accounts/")

// Handle answers GET /api/accounts and GET /api/accounts/{id} for the
// tenant named by the Host header.
func (s *Server) Handle(c *fasthttp.RequestCtx) {
	host := c.Host()
	if i := bytes.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	t := s.dbs[string(host)]
	if t == nil {
		c.Error(`{"error":"Tenant not found"}`, 404)
		return
	}
	path := c.Path()
	var rows *sql.Rows
	var err error
	single := false
	switch {
	case string(path) == "/api/accounts":
		rows, err = t.list.QueryContext(context.Background(), t.id)
	case bytes.HasPrefix(path, accountsPrefix):
		id, perr := strconv.ParseInt(string(path[len(accountsPrefix):]), 10, 64)
		if perr != nil {
			c.Error(`{"error":"Invalid account id"}`, 400)
			return
		}
		single = true
		rows, err = t.one.QueryContext(context.Background(), t.id, id)
	default:
		c.Error(`{"error":"Not found"}`, 404)
		return
	}
	if err != nil {
		c.Error(`{"error":"Internal error."}`, 500)
		return
	}
	defer rows.Close()
	var list []account
	for rows.Next() {
		var a account
		if err := rows.Scan(&a.ID, &a.TenantID, &a.UserID, &a.Type, &a.Currency, &a.Balance, &a.Status, &a.CreatedAt); err != nil {
			c.Error(`{"error":"Internal error."}`, 500)
			return
		}
		list = append(list, a)
	}
	c.SetContentType("application/json")
	enc := json.NewEncoder(c)
	if single {
		if len(list) == 0 {
			c.Error(`{"error":"Account not found"}`, 404)
			return
		}
		_ = enc.Encode(map[string]any{"account": list[0]})
		return
	}
	_ = enc.Encode(map[string]any{"accounts": list})
}

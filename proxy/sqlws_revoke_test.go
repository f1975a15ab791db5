package proxy_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tursodatabase/libsql-client-go/libsql"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// wsSession is one Go-client WebSocket connection (database/sql Conn, so
// every statement goes down the same socket and stream) holding a
// transaction open.
type wsSession struct {
	db   *sql.DB
	conn *sql.Conn
}

// openWSSession connects the real libSQL Go client over ws:// to a tenant
// through the proxy's loopback path prefix, and leaves a transaction open:
// with row != "", a write transaction with that row uncommitted (it holds
// the tenant's write lock); else a read transaction.
func openWSSession(t *testing.T, s *proxytest.Server, label, token, row string) *wsSession {
	t.Helper()
	c, err := libsql.NewConnector("ws://"+s.Addr+"/t/"+label+"/", libsql.WithAuthToken(token))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stmts := []string{"BEGIN", "SELECT count(*) FROM ws_notes"}
	if row != "" {
		stmts = []string{"BEGIN IMMEDIATE", "INSERT INTO ws_notes(body) VALUES ('" + row + "')"}
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s over ws: %v", q, err)
		}
	}
	return &wsSession{db: db, conn: conn}
}

// wsGauge reads one unlabelled gauge or a counter's series with labels.
func wsMetric(t *testing.T, s *proxytest.Server, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue series
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func wantWS(t *testing.T, r proxytest.Response, status int, msg string) {
	t.Helper()
	if r.Status != status || (msg != "" && r.Error() != msg) {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, msg)
	}
}

// An open Hrana WebSocket session does not outlive what authorised it:
// logout, disabling the token's user (on another proxy sharing the
// catalog), a password change and a tenant suspension each end it within
// a bounded time while it sits idle in a transaction (which rolls back),
// and its next statement fails. Driven with the real Go client.
func TestHranaWebSocketRevoked(t *testing.T) {
	dir := t.TempDir()
	// Password changes hash with argon2id, which the race detector on a
	// loaded machine slows to seconds: a generous request deadline.
	slowHash := func(c *proxy.Config) { c.RequestTimeout = time.Minute }
	a := proxytest.Start(t, proxytest.Options{DataDir: dir, PollInterval: catalog.DefaultPollInterval, Configure: slowHash})
	b := proxytest.Start(t, proxytest.Options{DataDir: dir, PollInterval: catalog.DefaultPollInterval, Configure: slowHash})
	ctx := context.Background()
	tn := a.CreateTenant("wsrevoke")
	host := proxytest.Host("wsrevoke")
	h, err := a.Shards.Acquire(ctx, tn.ID, tn.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	st := bank.New(h.DB, tn.ID)
	const password = "Ws-session-pw-2026"
	users := map[string]bank.User{}
	for _, role := range []string{bank.RoleAdmin, bank.RoleStaff, bank.RoleCustomer} {
		u, err := st.CreateUser(ctx, bank.NewUser{Email: role + "@wsrevoke.example", Name: role, Password: password, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		users[role] = u
	}
	h.Release()
	admin := a.Token(tn.ID, proxy.RoleAdmin, users[bank.RoleAdmin].ID)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tenants", strconv.FormatInt(tn.ID, 10)+".db")+"?_pragma=busy_timeout(200)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE ws_notes(id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}

	// endsWithin waits for the session to be cut off while idle (counted
	// as revoked, its stream closed); a write transaction is rolled back
	// (the write lock is free and its row gone); its next statement fails.
	revokedBefore := 0.0
	endsWithin := func(t *testing.T, s *proxytest.Server, ses *wsSession, row string, since time.Time, bound time.Duration, sessions ...float64) {
		t.Helper()
		want := revokedBefore + 1
		if len(sessions) > 0 {
			want = revokedBefore + sessions[0]
		}
		for wsMetric(t, s, "tenantgate_hrana_errors_total", "kind", "revoked") < want {
			if time.Since(since) > bound {
				t.Fatalf("the idle session is still open %v after the revocation", time.Since(since))
			}
			time.Sleep(20 * time.Millisecond)
		}
		revokedBefore = wsMetric(t, s, "tenantgate_hrana_errors_total", "kind", "revoked")
		t.Logf("session ended %v after the revocation started", time.Since(since))
		for wsMetric(t, s, "tenantgate_hrana_streams_open") != 0 {
			if time.Since(since) > bound+5*time.Second {
				t.Fatalf("%v streams still open after the session ended", wsMetric(t, s, "tenantgate_hrana_streams_open"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			// The write lock is released once the session's stream rolled back.
			if _, err = raw.Exec(`INSERT INTO ws_notes(body) VALUES ('probe')`); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("tenant still write-locked after the session ended: %v", err)
		}
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM ws_notes WHERE body = ?`, row).Scan(&n); row != "" && (err != nil || n != 0) {
			t.Fatalf("the ended session's uncommitted row: %d rows, %v", n, err)
		}
		if _, err := ses.conn.ExecContext(ctx, "INSERT INTO ws_notes(body) VALUES ('after')"); err == nil {
			t.Fatal("a statement on the ended session succeeded")
		} else {
			t.Logf("client sees: %v", err)
		}
	}
	const bound = 5 * time.Second // recheck every second + the catalog's change poll, on a loaded machine

	t.Run("Logout", func(t *testing.T) {
		tok := a.Token(tn.ID, proxy.RoleService, 0)
		ses := openWSSession(t, a, "wsrevoke", tok, "logout")
		// The logout's own audit row waits for the session's write lock:
		// the revocation (in the catalog) comes first and frees it.
		start := time.Now()
		wantWS(t, a.Do("POST", host, "/api/auth/logout", tok, nil), 200, "")
		endsWithin(t, a, ses, "logout", start, bound)
	})

	// Disabling a user or changing a password writes the tenant database
	// before it revokes, so these sessions hold read transactions (a
	// write transaction held idle would make the change wait for it).
	t.Run("DisabledUserOnAnotherProxy", func(t *testing.T) {
		// The session is on proxy B; the teller is disabled through A.
		tok := b.Token(tn.ID, proxy.RoleService, users[bank.RoleStaff].ID)
		ses := openWSSession(t, b, "wsrevoke", tok, "")
		revokedBefore = wsMetric(t, b, "tenantgate_hrana_errors_total", "kind", "revoked")
		r := a.Do("PATCH", host, fmt.Sprintf("/api/users/%d", users[bank.RoleStaff].ID), admin, map[string]string{"status": "disabled"})
		wantWS(t, r, 200, "")
		endsWithin(t, b, ses, "", time.Now(), bound)
		revokedBefore = wsMetric(t, a, "tenantgate_hrana_errors_total", "kind", "revoked")
	})

	t.Run("PasswordChange", func(t *testing.T) {
		tok := a.Token(tn.ID, proxy.RoleService, users[bank.RoleCustomer].ID)
		ses := openWSSession(t, a, "wsrevoke", tok, "")
		self := a.Token(tn.ID, proxy.RoleCustomer, users[bank.RoleCustomer].ID)
		r := a.Do("POST", host, "/api/auth/password", self, map[string]string{"current_password": password, "new_password": "Ws-session-pw-changed-1"})
		wantWS(t, r, 200, "")
		endsWithin(t, a, ses, "", time.Now(), bound)
	})

	t.Run("TenantSuspended", func(t *testing.T) {
		ses := openWSSession(t, a, "wsrevoke", a.Token(tn.ID, proxy.RoleService, 0), "suspended")
		// A session sending requests all along is cut off too.
		stop := make(chan struct{})
		busyErr := make(chan error, 1)
		busy, err := ses.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		go func() {
			for {
				var one int
				if err := busy.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
					busyErr <- err
					return
				}
				select {
				case <-stop:
					busyErr <- nil
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
		if _, err := a.Tenants.Suspend(ctx, tn.ID); err != nil {
			t.Fatal(err)
		}
		suspendedAt := time.Now()
		select {
		case err := <-busyErr:
			if err == nil {
				t.Error("the busy session stopped without an error")
			}
			t.Logf("busy session sees: %v", err)
		case <-time.After(bound):
			close(stop)
			t.Fatalf("a busy session still runs statements %v after the suspension", time.Since(suspendedAt))
		}
		endsWithin(t, a, ses, "suspended", suspendedAt, bound, 2) // the busy and the idle session
	})
}

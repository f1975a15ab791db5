package proxy

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/shard/storage"
)

// A remote tenant's libSQL server that cannot be reached (here: a closed
// port on loopback, through the real libSQL client) is 503 Tenant
// unavailable with Retry-After, never a 500.
func TestErrorForUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	db, err := storage.Open(context.Background(), "http://"+addr+"/t/gone/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	err = db.QueryRow(`SELECT 1`).Scan(&one)
	if err == nil {
		t.Fatal("a query to a closed port succeeded")
	}
	if !storage.IsUnreachable(err) {
		t.Fatalf("IsUnreachable(%v) = false", err)
	}
	if e := errorFor(err); e.Status != http.StatusServiceUnavailable || e.Retry != 1 {
		t.Fatalf("errorFor(%v) = %d %q retry %d, want 503 with Retry-After", err, e.Status, e.Message, e.Retry)
	}
}

// A libSQL server that sheds or throttles a request (HTTP 503 or 429, as a
// tenantgate shard does when its open gate is full) is 503 Tenant
// unavailable at the front, never a 500: the real libSQL client against a
// loopback server that answers every pipeline so.
func TestErrorForServerShedding(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(status)
			w.Write([]byte(`{"error":"Tenant unavailable","code":"TENANT_UNAVAILABLE"}`))
		}))
		db, err := storage.Open(context.Background(), srv.URL+"/t/busy/")
		if err != nil {
			t.Fatal(err)
		}
		var one int
		err = db.QueryRow(`SELECT 1`).Scan(&one)
		db.Close()
		srv.Close()
		if err == nil {
			t.Fatalf("%d: the query succeeded", status)
		}
		if e := errorFor(err); e.Status != http.StatusServiceUnavailable || e.Retry != 1 {
			t.Fatalf("%d: errorFor(%v) = %d %q retry %d, want 503 with Retry-After", status, err, e.Status, e.Message, e.Retry)
		}
	}
}

// A write on a tenant file SQLite could only open read-only (it falls back
// to read-only when it cannot open it for writing) is 503, not a 500.
func TestErrorForReadOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	rw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Exec(`CREATE TABLE t(x)`); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.Exec(`INSERT INTO t VALUES (1)`)
	if err == nil {
		t.Fatal("a write on a read-only connection succeeded")
	}
	if e := errorFor(err); e.Status != http.StatusServiceUnavailable || e.Retry != 1 {
		t.Fatalf("errorFor(%v) = %d %q retry %d, want 503 with Retry-After", err, e.Status, e.Message, e.Retry)
	}
}

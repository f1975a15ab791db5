package proxy

import (
	"context"
	"net"
	"net/http"
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

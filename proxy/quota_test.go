package proxy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// hranaStmt runs one statement on a fresh stream and returns the HTTP
// status and the result (or error) object.
func hranaStmt(t *testing.T, s *proxytest.Server, host, tok, sql string) (int, map[string]any) {
	t.Helper()
	status, r, raw := hranaDo(t, s, host, tok, `{"requests":[{"type":"execute","stmt":{"sql":"`+sql+`"}},{"type":"close"}]}`)
	if status != 200 || len(r.Results) == 0 {
		return status, map[string]any{"raw": raw}
	}
	return status, r.Results[0]
}

func hranaInt(t *testing.T, s *proxytest.Server, host, tok, sql string) int64 {
	t.Helper()
	_, res := hranaStmt(t, s, host, tok, sql)
	var n int64
	raw := fmt.Sprint(res)
	if _, err := fmt.Sscanf(raw[strings.Index(raw, "value:")+len("value:"):], "%d", &n); err != nil {
		t.Fatalf("%s: %s", sql, raw)
	}
	return n
}

// Issue 14, disk: one tenant wrote 200 MB in twenty 10 MB statements with
// no quota. Now the tenant's quota (set here through the admin API) stops
// the writes with the quota error and never a 5xx, bank writes get 403
// "Storage quota exceeded", reads go on, and DROP + PRAGMA
// incremental_vacuum hand the space back.
func TestStorageQuotaEndToEnd(t *testing.T) {
	s := startPublic(t)
	// One customer (each password hash is slow under the race detector).
	tn := s.CreateTenant("quotabank")
	h, err := s.Shards.Acquire(context.Background(), tn.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := bank.New(h.DB, tn.ID).CreateUser(context.Background(), bank.NewUser{Email: "c@quota.example", Name: "Customer", Password: fixturePassword, Role: bank.RoleCustomer})
	h.Release()
	if err != nil {
		t.Fatal(err)
	}
	staff := s.Token(tn.ID, proxy.RoleStaff, 0)
	bankWrite := func() proxytest.Response { // one account opened
		return s.Do("POST", proxytest.Host("quotabank"), "/api/accounts", staff, map[string]any{"user_id": u.ID, "type": "savings"})
	}
	// The race detector slows SQLite's VM (randomblob above all) many
	// times over: the same pattern at the smallest quota allowed.
	scale := 1
	if raceEnabled {
		scale = 24
	}
	quota, blob := 24<<20/scale, 10_000_000/scale
	if status, body := adminDo(t, s, "PATCH", fmt.Sprintf("/api/admin/tenants/%d", tn.ID), map[string]any{"storage_quota_bytes": quota}); status != 200 {
		t.Fatalf("set quota: %d %+v", status, body)
	}
	tok := s.Token(tn.ID, proxy.RoleService, 0)
	if status, res := hranaStmt(t, s, "quotabank", tok, "CREATE TABLE junk(b BLOB)"); status != 200 || res["type"] != "ok" {
		t.Fatalf("create: %d %v", status, res)
	}
	ok, refused := 0, 0
	for i := range 20 {
		status, res := hranaStmt(t, s, "quotabank", tok, fmt.Sprintf("INSERT INTO junk SELECT randomblob(%d)", blob))
		if status >= 500 {
			t.Fatalf("insert %d: %d %v", i, status, res)
		}
		switch res["type"] {
		case "ok":
			ok++
		case "error":
			msg := fmt.Sprint(res["error"])
			if !strings.Contains(msg, "storage quota exceeded") || !strings.Contains(msg, "SQLITE_FULL") {
				t.Fatalf("insert %d: %v", i, msg)
			}
			refused++
		default:
			t.Fatalf("insert %d: %d %v", i, status, res)
		}
	}
	if ok < 1 || ok > 2 || refused != 20-ok {
		t.Fatalf("%d inserts of %d bytes fit a %d-byte quota, %d refused", ok, blob, quota, refused)
	}
	// Fill the last pages, then the bank's own writes meet the quota: 403.
	for _, size := range []int{4 << 20, 1 << 20, 256 << 10, 64 << 10, 16 << 10, 4 << 10, 1 << 10} {
		for range 8 {
			if _, res := hranaStmt(t, s, "quotabank", tok, fmt.Sprintf("INSERT INTO junk SELECT randomblob(%d)", size/scale)); res["type"] != "ok" {
				break
			}
		}
	}
	sawQuota := false
	for i := range 100 {
		r := bankWrite()
		if r.Status >= 500 {
			t.Fatalf("bank write %d past the quota: %d %s", i, r.Status, r.Body)
		}
		if r.Status == 403 {
			if r.Error() != "Storage quota exceeded" {
				t.Fatalf("bank write %d: 403 %s", i, r.Body)
			}
			sawQuota = true
			break
		}
	}
	if !sawQuota {
		t.Fatal("100 audited bank writes never met the storage quota")
	}
	// Reads go on.
	if r := s.Do("GET", proxytest.Host("quotabank"), "/api/accounts", staff, nil); r.Status != 200 {
		t.Fatalf("read at the quota: %d %s", r.Status, r.Body)
	}
	if n := hranaInt(t, s, "quotabank", tok, fmt.Sprintf("SELECT count(*) FROM junk WHERE length(b) = %d", blob)); n != int64(ok) {
		t.Fatalf("read %d big rows, wrote %d", n, ok)
	}
	// Reclaim: the pages go back to the file system.
	before := hranaInt(t, s, "quotabank", tok, "PRAGMA page_count")
	if _, res := hranaStmt(t, s, "quotabank", tok, "DROP TABLE junk"); res["type"] != "ok" {
		t.Fatalf("drop: %v", res)
	}
	if _, res := hranaStmt(t, s, "quotabank", tok, "PRAGMA incremental_vacuum"); res["type"] != "ok" {
		t.Fatalf("incremental_vacuum: %v", res)
	}
	after := hranaInt(t, s, "quotabank", tok, "PRAGMA page_count")
	if after*4096 > int64(quota)/4 || after >= before {
		t.Fatalf("page_count %d → %d after DROP + incremental_vacuum", before, after)
	}
	if r := bankWrite(); r.Status != 201 {
		t.Fatalf("bank write after reclaim: %d %s", r.Status, r.Body)
	}
	// The quota is the tenant's, in the admin view too.
	r := s.Do("GET", adminHost, fmt.Sprintf("/api/admin/tenants/%d", tn.ID), s.Token(0, proxy.RolePlatformAdmin, 0), nil)
	want := fmt.Sprintf(`"storage_quota_bytes":%d`, quota)
	if r.Status != 200 || !strings.Contains(string(r.Body), want) || !strings.Contains(string(r.Body), `"storage_quota_effective_bytes":`+fmt.Sprint(quota)) {
		t.Fatalf("admin view: %d %s", r.Status, r.Body)
	}
}

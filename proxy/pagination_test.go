package proxy_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// /api/accounts and /api/users page with next_cursor like transactions,
// and after_id keeps working.
func TestListNextCursor(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("pager")
	host := proxytest.Host("pager")
	admin := s.Token(tn.ID, proxy.RoleAdmin, 0)
	var userID int64
	for i := range 5 {
		r := s.Do("POST", host, "/api/users", admin, map[string]string{
			"name": fmt.Sprintf("Member %d", i), "email": fmt.Sprintf("m%d@pager.example", i), "password": "Member-pw-2026", "role": "customer"})
		if r.Status != 201 {
			t.Fatalf("user: %d %s", r.Status, r.Body)
		}
		var u struct{ User struct{ ID int64 } }
		json.Unmarshal(r.Body, &u)
		userID = u.User.ID
		if r := s.Do("POST", host, "/api/accounts", admin, map[string]any{"user_id": userID, "type": "savings"}); r.Status != 201 {
			t.Fatalf("account: %d %s", r.Status, r.Body)
		}
	}
	for _, list := range []string{"accounts", "users"} {
		seen := map[int64]bool{}
		cursor, pages := "", 0
		for {
			q := url.Values{"limit": {"2"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			r := s.Do("GET", host, "/api/"+list+"?"+q.Encode(), admin, nil)
			var page map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &page); err != nil || r.Status != 200 {
				t.Fatalf("%s page: %d %s", list, r.Status, r.Body)
			}
			var rows []struct{ ID int64 }
			json.Unmarshal(page[list], &rows)
			if err := json.Unmarshal(page["next_cursor"], &cursor); err != nil {
				t.Fatalf("%s page without next_cursor: %s", list, r.Body)
			}
			for _, row := range rows {
				if seen[row.ID] {
					t.Fatalf("%s: id %d twice", list, row.ID)
				}
				seen[row.ID] = true
			}
			pages++
			if cursor == "" || pages > 10 {
				break
			}
		}
		if len(seen) != 5 || pages != 3 {
			t.Errorf("%s: %d rows over %d pages, want 5 over 3", list, len(seen), pages)
		}
		// after_id still works.
		r := s.Do("GET", host, "/api/"+list+"?after_id=1&limit=200", admin, nil)
		var page map[string]json.RawMessage
		json.Unmarshal(r.Body, &page)
		var rows []struct{ ID int64 }
		json.Unmarshal(page[list], &rows)
		if r.Status != 200 || len(rows) != 4 || string(page["next_cursor"]) != `""` {
			t.Errorf("%s after_id=1: %d %s", list, r.Status, r.Body)
		}
		if r := s.Do("GET", host, "/api/"+list+"?cursor=abc", admin, nil); r.Status != 400 || !strings.Contains(string(r.Body), `"cursor"`) {
			t.Errorf("%s bad cursor: %d %s", list, r.Status, r.Body)
		}
	}
}

package proxy_test

import (
	"encoding/json"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// Every 400 about one field names it in "fields", as the README promises:
// a wrong type, an unknown field and a duplicate one included.
func TestBadRequestFields(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("fields")
	tok := s.Token(tn.ID, proxy.RoleStaff, 1)
	for _, tc := range []struct{ body, field string }{
		{`{"type":"deposit","account_id":1,"amount":"10"}`, "amount"},
		{`{"type":"deposit","account_id":"1","amount":10}`, "account_id"},
		{`{"type":"deposit","account_id":1,"amount":10,"memo":"x"}`, "memo"},
		{`{"type":"deposit","account_id":1,"amount":10,"amount":1000}`, "amount"},
		{`{"type":"deposit","account_id":1,"AMOUNT":10}`, "AMOUNT"},
		{`{"type":"deposit","account_id":1,"amount":0}`, "amount"},
	} {
		r := s.Do("POST", proxytest.Host("fields"), "/api/transactions", tok, tc.body)
		var e struct {
			Error  string
			Fields map[string]string
		}
		json.Unmarshal(r.Body, &e)
		if r.Status != 400 || e.Fields[tc.field] == "" || len(e.Fields) != 1 {
			t.Errorf("%s: %d %s, want 400 with fields.%s", tc.body, r.Status, r.Body, tc.field)
		}
	}
}

package bankapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/microfi/tenantgate/shard/bank"
)

// TestAccountJSON: the hand-appended answers are byte for byte what
// encoding/json wrote before, for ordinary and hostile text alike.
func TestAccountJSON(t *testing.T) {
	odd := []string{"", "savings", `quo"te\back`, "<b>&amp;</b>", "tab\tnew\nline\x01", "é€😀", "\u2028\u2029", "bad\xffutf8"}
	var accts []bank.Account
	for i, s := range odd {
		accts = append(accts, bank.Account{ID: int64(i + 1), TenantID: 7, UserID: -3, Type: s, Currency: "GHS", Balance: 1 << 62, Status: s, CreatedAt: s})
	}
	for _, p := range []accountPage{{Accounts: []bank.Account{}}, {Accounts: accts[:1], NextCursor: "1"}, {Accounts: accts, NextCursor: "\x00"}} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p); err != nil {
			t.Fatal(err)
		}
		if got := append(p.appendJSON(nil), '\n'); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("got  %s\nwant %s", got, want.Bytes())
		}
	}
}

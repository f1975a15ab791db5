package token_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/token"
)

// TestVerifyBytes: a token verified from a request buffer is cached under
// a copy (reusing the buffer cannot corrupt the cache), is found again
// without one, and a bad token is still refused.
func TestVerifyBytes(t *testing.T) {
	a, err := token.NewAuth(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Issue(token.Claims{TenantID: token.Int(3), UserID: token.Int(4), Role: token.RoleStaff}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte(tok)
	c, err := a.VerifyBytes(buf) // a miss: verified, cached under a copy
	if err != nil || c.Tenant() != 3 {
		t.Fatalf("first: %+v, %v", c, err)
	}
	if c2, err := a.VerifyBytes(buf); err != nil || c2 != c {
		t.Fatalf("cached: %+v, %v", c2, err)
	}
	for i := range buf {
		buf[i] = 'x' // the request buffer is reused
	}
	if c3, err := a.Verify(tok); err != nil || c3 != c {
		t.Fatalf("after the buffer changed: %+v, %v", c3, err)
	}
	for _, bad := range [][]byte{nil, buf, []byte(tok[:len(tok)-2] + "AA")} {
		if _, err := a.VerifyBytes(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

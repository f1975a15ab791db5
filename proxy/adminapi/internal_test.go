package adminapi

import "testing"

func TestRedactDBURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"file:/data/tenants/7.db", "file:/data/tenants/7.db"},
		{"libsql://db.example.com?authToken=secret", "libsql://db.example.com?authToken=REDACTED"},
		{"https://u:p@db.example.com/x?tls=1&authToken=s", "https://REDACTED@db.example.com/x?authToken=REDACTED&tls=1"},
	} {
		if got := redactDBURL(c.in); got != c.want {
			t.Errorf("redactDBURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

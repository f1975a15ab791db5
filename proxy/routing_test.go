package proxy_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// rawRequest sends a request with an arbitrary (even malformed) Host line.
func rawRequest(t *testing.T, addr, hostLine, path, token string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\n" + hostLine
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	req += "Connection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var code int
	fmt.Sscanf(status, "HTTP/1.1 %d", &code)
	var body strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
	}
	buf := make([]byte, 4096)
	n, _ := br.Read(buf)
	body.Write(buf[:n])
	return code, body.String()
}

func TestHostRouting(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("client1")
	if _, err := s.Catalog.Update(t.Context(), tn.ID, catalog.Update{CustomDomain: ptr("bank.example.org")}); err != nil {
		t.Fatal(err)
	}
	admin := s.Token(0, proxy.RolePlatformAdmin, 0)
	tok := s.Token(tn.ID, proxy.RoleStaff, 1)
	root := proxytest.RootDomain
	tests := []struct {
		name, host, path, token string
		wantStatus              int
		wantBody                string // substring
	}{
		{"Root", root, "/", "", 200, "MicroFi"},
		{"WWW", "www." + root, "/", "", 200, "MicroFi"},
		{"Admin", "admin." + root, "/api/admin/tenants", admin, 200, ""},
		{"AdminNeedsToken", "admin." + root, "/api/admin/tenants", "", 401, "Authentication required"},
		{"Subdomain", "client1." + root, "/api/accounts", tok, 200, `"accounts"`},
		{"CustomDomain", "bank.example.org", "/api/accounts", tok, 200, `"accounts"`},
		{"MixedCase", "CLIENT1." + strings.ToUpper(root), "/api/accounts", tok, 200, `"accounts"`},
		{"WithPort", "client1." + root + ":8080", "/api/accounts", tok, 200, `"accounts"`},
		{"TrailingDot", "client1." + root + ".", "/api/accounts", tok, 200, `"accounts"`},
		{"CustomDomainMixedCasePort", "Bank.Example.ORG.:443", "/api/accounts", tok, 200, `"accounts"`},
		{"UnknownSubdomain", "nope." + root, "/api/accounts", tok, 404, "Tenant not found"},
		{"UnknownDomain", "nope.example.com", "/api/accounts", tok, 404, "Tenant not found"},
		{"TwoLabelsDeep", "a.client1." + root, "/api/accounts", tok, 404, "Tenant not found"},
		{"Malformed", "bad_host!.example", "/api/accounts", tok, 404, "Tenant not found"},
		{"IPv6", "[::1]:8080", "/api/accounts", tok, 404, "Tenant not found"},
		{"UnknownRoute", "client1." + root, "/api/nope", tok, 404, "Not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do("GET", tt.host, tt.path, tt.token, nil)
			if r.Status != tt.wantStatus || !strings.Contains(string(r.Body), tt.wantBody) {
				t.Fatalf("Host %q: got %d %s, want %d containing %q", tt.host, r.Status, r.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	// Hosts fasthttp itself refuses as malformed HTTP get a JSON 400; the
	// rest reach the router and get 404 without a catalog lookup.
	for name, line := range map[string]string{
		"EmptyHost": "Host: \r\n", "BadPort": "Host: client1." + root + ":http\r\n",
		"Spaces": "Host: client 1." + root + "\r\n", "Underscore": "Host: a_b." + root + "\r\n",
		"TooLong": "Host: " + strings.Repeat("a", 300) + "." + root + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			code, body := rawRequest(t, s.Addr, line, "/api/accounts", tok)
			if (code != 404 || !strings.Contains(body, "Tenant not found")) && (code != 400 || !strings.Contains(body, "error")) {
				t.Fatalf("got %d %s", code, body)
			}
		})
	}
	t.Run("NoHostHeader", func(t *testing.T) {
		code, _ := rawRequest(t, s.Addr, "", "/api/accounts", tok)
		if code != 404 && code != 400 {
			t.Fatalf("got %d, want 404 or 400", code)
		}
	})
	t.Run("WrongMethod", func(t *testing.T) {
		r := s.Do("DELETE", "client1."+root, "/api/accounts", tok, nil)
		if r.Status != 405 || r.Error() == "" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

func ptr[T any](v T) *T { return &v }

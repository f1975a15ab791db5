package proxy_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/microfi/tenantgate/proxy/proxytest"
)

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds an "alg: none" token by hand (the library refuses to).
func unsigned(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// Every token failure of the contract, on a real server.
func TestTokenFailures(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("client1")
	host := proxytest.Host("client1")
	key := []byte(proxytest.Secret)
	exp := time.Now().Add(time.Hour).Unix()
	good := jwt.MapClaims{"tenant_id": tn.ID, "user_id": 1, "role": "staff", "iat": time.Now().Unix(), "exp": exp}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, header string
		want         string
		status       int
	}{
		{"None", "", "Authentication required", 401},
		{"NotBearer", "Basic dXNlcjpwYXNz", "Invalid token", 401},
		{"EmptyBearer", "Bearer ", "Invalid token", 401},
		{"Garbage", "Bearer not-a-token", "Invalid token", 401},
		{"WrongKey", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-000000"), good), "Invalid token", 401},
		{"AlgNone", "Bearer " + unsigned(good), "Invalid token", 401},
		{"HS384", "Bearer " + sign(t, jwt.SigningMethodHS384, key, good), "Invalid token", 401},
		{"RS256", "Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, good), "Invalid token", 401},
		{"Expired", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("exp", time.Now().Add(-time.Hour).Unix())), "Invalid token", 401},
		{"MissingExp", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("exp", nil)), "Invalid token", 401},
		{"TenantString", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("tenant_id", "1")), "Invalid token", 401},
		{"TenantFloat", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("tenant_id", 1.5)), "Invalid token", 401},
		{"TenantArray", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("tenant_id", []int{1})), "Invalid token", 401},
		{"TenantNull", "Bearer " + sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"tenant_id": nil, "role": "staff", "exp": exp}), "Invalid token", 401},
		{"TenantMissing", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("tenant_id", nil)), "Invalid token", 401},
		{"UnknownRole", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("role", "root")), "Invalid token", 401},
		{"OtherTenant", "Bearer " + sign(t, jwt.SigningMethodHS256, key, with("tenant_id", tn.ID+100)), "Tenant mismatch", 401},
		{"PlatformAdminOnTenantHost", "Bearer " + sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"role": "platform_admin", "exp": exp}), "Tenant mismatch", 401},
		{"LowerCaseScheme", "bearer " + sign(t, jwt.SigningMethodHS256, key, good), "", 200},
		{"Valid", "Bearer " + sign(t, jwt.SigningMethodHS256, key, good), "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.header != "" {
				headers = []string{"Authorization", tt.header}
			}
			r := s.Do("GET", host, "/api/accounts", "", nil, headers...)
			if r.Status != tt.status || r.Error() != tt.want {
				t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, tt.status, tt.want)
			}
		})
	}
}

func TestTenantStatus(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("client1")
	tok := s.Token(tn.ID, "staff", 1)
	host := proxytest.Host("client1")
	suspended := "suspended"
	if _, err := s.Catalog.Update(t.Context(), tn.ID, catalogUpdateStatus(suspended)); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("GET", host, "/api/accounts", tok, nil); r.Status != 403 || r.Error() != "Tenant suspended" {
		t.Fatalf("suspended: got %d %s", r.Status, r.Body)
	}
	if _, err := s.Catalog.Update(t.Context(), tn.ID, catalogUpdateStatus("active")); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("GET", host, "/api/accounts", tok, nil); r.Status != 200 {
		t.Fatalf("resumed: got %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", host, "/api/accounts", s.Token(tn.ID, "platform_admin", 0), nil); r.Status != 403 || r.Error() != "Forbidden" {
		t.Fatalf("platform_admin on tenant host: got %d %s", r.Status, r.Body)
	}
}

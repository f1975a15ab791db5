package proxy_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy/proxytest"
)

// signRaw signs a payload exactly as written, so a test can send what a
// claims map cannot express (duplicate keys, odd spellings).
func signRaw(payload string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(proxytest.Secret))
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Token claims are decoded strictly: a claim given twice, a claim name in
// another case, and a time claim that is not a number are all refused,
// where a lenient decoder picked the last key, matched case-insensitively
// and read "exp" from a string.
func TestHostileTokenClaimsStrict(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("strict")
	other := s.CreateTenant("strict2")
	host := proxytest.Host("strict2")
	now := time.Now().Unix()
	exp := now + 3600
	ok := fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":%d}`, other.ID, now, exp)
	if r := s.Do("GET", host, "/api/accounts", signRaw(ok), nil); r.Status != http.StatusOK {
		t.Fatalf("well-formed token: %d %s", r.Status, r.Body)
	}
	for name, payload := range map[string]string{
		"duplicate tenant_id": fmt.Sprintf(`{"tenant_id":%d,"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":%d}`, tn.ID, other.ID, now, exp),
		"duplicate role":      fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"customer","role":"admin","iat":%d,"exp":%d}`, other.ID, now, exp),
		"Tenant_ID":           fmt.Sprintf(`{"Tenant_ID":%d,"user_id":1,"role":"admin","iat":%d,"exp":%d}`, other.ID, now, exp),
		"ROLE":                fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"ROLE":"admin","iat":%d,"exp":%d}`, other.ID, now, exp),
		"EXP":                 fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"EXP":%d}`, other.ID, now, exp),
		"exp string":          fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":"%d"}`, other.ID, now, exp),
		"iat string":          fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":"%d","exp":%d}`, other.ID, now, exp),
		"nbf string":          fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"nbf":"%d","exp":%d}`, other.ID, now, now, exp),
		"exp bool":            fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":true}`, other.ID, now),
		"exp null":            fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":null}`, other.ID, now),
		"duplicate exp":       fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":%d,"exp":%d}`, other.ID, now, now-10, exp),
		"escaped duplicate":   fmt.Sprintf(`{"tenant_id":%d,"tenant\u005fid":%d,"user_id":1,"role":"admin","iat":%d,"exp":%d}`, tn.ID, other.ID, now, exp),
		"User_ID":             fmt.Sprintf(`{"tenant_id":%d,"User_ID":1,"role":"admin","iat":%d,"exp":%d}`, other.ID, now, exp),
		"tenant_id string":    fmt.Sprintf(`{"tenant_id":"%d","user_id":1,"role":"admin","iat":%d,"exp":%d}`, other.ID, now, exp),
		"exp numeric string":  fmt.Sprintf(`{"tenant_id":%d,"user_id":1,"role":"admin","iat":%d,"exp":"%d.0"}`, other.ID, now, exp),
	} {
		r := s.Do("GET", host, "/api/accounts", signRaw(payload), nil)
		if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `"Invalid token"`) {
			t.Errorf("%s: %d %s, want 401 Invalid token", name, r.Status, r.Body)
		}
	}
}

// A token minted for a tenant must not work on a later tenant that got the
// same id. The catalog never reuses ids, but a catalog rebuilt or replaced
// (a restore, a new deployment with the same key) starts again at 1: tokens
// issued before the tenant was created are refused.
func TestHostileRecycledTenantIDToken(t *testing.T) {
	old := proxytest.Start(t, proxytest.Options{})
	gone := old.CreateTenant("gone")
	now := time.Now().Unix()
	// Issued two minutes ago (for the earlier tenant 1 of some catalog).
	stale := signRaw(fmt.Sprintf(`{"tenant_id":%d,"user_id":0,"role":"service","iat":%d,"exp":%d}`, gone.ID, now-120, now+3600))
	s := proxytest.Start(t, proxytest.Options{}) // a new catalog, the same key
	reborn := s.CreateTenant("reborn")
	if reborn.ID != gone.ID {
		t.Fatalf("new catalog gave id %d, want %d", reborn.ID, gone.ID)
	}
	host := proxytest.Host("reborn")
	if r := s.Do("GET", host, "/api/accounts", stale, nil); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `"Invalid token"`) {
		t.Errorf("token of the earlier tenant %d: %d %s, want 401 Invalid token", gone.ID, r.Status, r.Body)
	}
	noIat := signRaw(fmt.Sprintf(`{"tenant_id":%d,"user_id":0,"role":"service","exp":%d}`, gone.ID, now+3600))
	if r := s.Do("GET", host, "/api/accounts", noIat, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("token without iat: %d %s, want 401", r.Status, r.Body)
	}
	if r := s.Do("GET", host, "/api/accounts", s.Token(reborn.ID, "service", 0), nil); r.Status != http.StatusOK {
		t.Errorf("fresh token: %d %s", r.Status, r.Body)
	}
}

package main

import (
	"strings"
	"testing"
)

// The banner prints a token only for a demo tenant this very start seeded
// on an empty catalog: tenant 1 may be a real institution, and stdout ends
// up in logs. No "eyJ" (the start of every JWT) otherwise.
func TestServeBannerToken(t *testing.T) {
	t.Run("TenantOneIsAnInstitution", func(t *testing.T) {
		dir := t.TempDir()
		cli(t, "tenants", "create", "--data-dir", dir, "--host", "acme", "--name", "Acme Savings", "--country", "KE")
		_, out := runServer(t, dir)
		banner := out.String()
		if strings.Contains(banner, "eyJ") || strings.Contains(banner, "demo") {
			t.Fatalf("banner shows a token or demo lines for a real tenant 1:\n%s", banner)
		}
		if !strings.Contains(banner, "tenantgate token") {
			t.Fatalf("banner does not say how to mint a token:\n%s", banner)
		}
	})
	t.Run("SeedDemoFalse", func(t *testing.T) {
		_, out := runServer(t, t.TempDir(), "--seed-demo=false")
		if banner := out.String(); strings.Contains(banner, "eyJ") || strings.Contains(banner, "demo") {
			t.Fatalf("--seed-demo=false banner:\n%s", banner)
		}
	})
	dir := t.TempDir()
	t.Run("FirstStartSeedsTheDemo", func(t *testing.T) {
		_, out := runServer(t, dir)
		if banner := out.String(); !strings.Contains(banner, "Bearer eyJ") || !strings.Contains(banner, "demo login") {
			t.Fatalf("first start on an empty catalog: no demo token:\n%s", banner)
		}
	})
	t.Run("LaterStart", func(t *testing.T) {
		_, out := runServer(t, dir)
		if banner := out.String(); strings.Contains(banner, "eyJ") {
			t.Fatalf("a later start printed a token:\n%s", banner)
		}
	})
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/microfi/tenantgate/proxy"
)

// runToken prints a signed JWT: tenantgate token --tenant X --role R [--user ID] [--ttl 1h].
func runToken(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("token")
	tenant := f.String("tenant", "", "tenant host or id (not needed for --role platform_admin)")
	role := f.String("role", "", "customer, staff, admin, service or platform_admin")
	user := f.Int64("user", 0, "user id claim")
	ttl := f.Duration("ttl", time.Hour, "validity")
	readOnly := f.Bool("read-only", false, `read-only SQL access (claim "a":"ro")`)
	secretFlag := f.String("jwt-secret", "", "HS256 key (default: <data-dir>/jwt.secret)")
	catURL := f.String("catalog-url", "", "catalog database URL (default file:<data-dir>/catalog.db)")
	if err := f.parse(args); err != nil {
		return err
	}
	if *ttl <= 0 || *ttl > 366*24*time.Hour {
		return errUsage("--ttl must be between 1s and 366 days")
	}
	claims := proxy.Claims{Role: *role}
	var notBefore int64 // the tenant's latest revocation cut-off (see catalog.Revocations)
	switch *role {
	case proxy.RolePlatformAdmin:
	case proxy.RoleCustomer, proxy.RoleStaff, proxy.RoleAdmin, proxy.RoleService:
		if *tenant == "" {
			return errUsage("--tenant is required for role " + *role)
		}
		t, err := openTools(ctx, f.DataDir(), *catURL)
		if err != nil {
			return err
		}
		tn, err := t.catalog.Resolve(ctx, *tenant)
		if err != nil {
			t.Close()
			return fmt.Errorf("tenant %q: %w", *tenant, err)
		}
		rev, err := t.catalog.FreshRevocations(ctx, tn.ID)
		t.Close()
		if err != nil {
			return err
		}
		notBefore = rev.NotBefore(*user)
		claims.TenantID = proxy.Int(tn.ID)
	default:
		return errUsage("--role must be customer, staff, admin, service or platform_admin")
	}
	if *user != 0 {
		claims.UserID = proxy.Int(*user)
	}
	if *readOnly {
		claims.Access = "ro"
	}
	secret, err := jwtSecret(f.DataDir(), *secretFlag)
	if err != nil {
		return err
	}
	auth, err := proxy.NewAuth(secret)
	if err != nil {
		return err
	}
	tok, _, err := auth.IssueAfter(claims, *ttl, notBefore)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, tok)
	return nil
}

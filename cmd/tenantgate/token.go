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
	tenant := f.String("tenant", "", "the token's tenant, by `HOST_OR_ID` (not needed for --role platform_admin)")
	role := f.String("role", "", "`ROLE`: customer, staff, admin, service, platform_admin or shard")
	user := f.Int64("user", 0, "user `ID` claim")
	ttl := f.Duration("ttl", time.Hour, "token lifetime `DURATION`, 1s to 366 days")
	readOnly := f.Bool("read-only", false, `read-only SQL access (claim "a":"ro")`)
	secretFlag := f.String("jwt-secret", "", "the server's HS256 `KEY` (default: <data-dir>/jwt.secret, which must exist)")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return errUsage(fmt.Sprintf("token: unexpected argument %q", f.Arg(0)))
	}
	if *ttl <= 0 || *ttl > 366*24*time.Hour {
		return errUsage("token: --ttl must be between 1s and 366 days")
	}
	switch *role {
	case proxy.RolePlatformAdmin, proxy.RoleShard, proxy.RoleCustomer, proxy.RoleStaff, proxy.RoleAdmin, proxy.RoleService:
	default:
		return errUsage("token: --role must be customer, staff, admin, service, platform_admin or shard")
	}
	// Check the key first: a wrong --data-dir must not get as far as a
	// catalog or a token.
	secret, err := readJWTSecret(f.DataDir(), *secretFlag)
	if err != nil {
		return err
	}
	claims := proxy.Claims{Role: *role}
	var notBefore int64 // the tenant's latest revocation cut-off (see catalog.Revocations)
	switch *role {
	case proxy.RolePlatformAdmin, proxy.RoleShard:
	case proxy.RoleCustomer, proxy.RoleStaff, proxy.RoleAdmin, proxy.RoleService:
		if *tenant == "" {
			return errUsage("token: --tenant is required for role " + *role)
		}
		t, err := openExisting(ctx, f.DataDir(), *catURL)
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
		return errUsage("token: --role must be customer, staff, admin, service, platform_admin or shard")
	}
	if *user != 0 {
		claims.UserID = proxy.Int(*user)
	}
	if *readOnly {
		claims.Access = "ro"
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

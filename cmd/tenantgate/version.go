package main

import (
	"context"
	"fmt"

	"github.com/prometheus/common/version"

	"github.com/microfi/tenantgate/proxy"
)

// runVersion prints the version, revision and Go toolchain.
func runVersion(_ context.Context, env *Env, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		printCommandHelp(env.Stdout, "version", nil, "")
		return nil
	}
	if len(args) > 0 {
		return errUsage(fmt.Sprintf("version: unexpected argument %q", args[0]))
	}
	proxy.BuildVersion()
	fmt.Fprintf(env.Stdout, "tenantgate %s %s\n", version.Info(), version.BuildContext())
	return nil
}

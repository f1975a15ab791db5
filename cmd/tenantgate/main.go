// Command tenantgate is the database-per-tenant edge proxy and its
// operator tooling: serve, tenants, token, migrate, import, backup, restore.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Env is what a command may touch of the outside world, so tests can run
// commands in-process with their own output and environment.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, if set, receives the serve command's bound addresses once it
	// is listening (tests use it to find ":0" ports).
	Ready func(listen, metrics string)
	// ReadyTLS, if set, receives the HTTPS listener's address.
	ReadyTLS func(addr string)
}

// commands maps a top-level command to its entry point; its help lives in
// docs.
var commands = map[string]func(ctx context.Context, env *Env, args []string) error{
	"serve":   runServe,
	"tenants": runTenants,
	"token":   runToken,
	"migrate": runMigrate,
	"import":  runImport,
	"backup":  runBackup,
	"restore": runRestore,
	"version": runVersion,
	"verify":  runVerify,
	"tokens":  runTokens,
	"audit":   runAudit,
	"shards":  runShards,
	"fleet":   runFleet,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := Main(ctx, env, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantgate:", err)
		os.Exit(exitCode(err))
	}
}

// Main runs one command. Help goes to stdout and is not an error; a
// mistake in the call is a usageError (exit status 2), printed once by the
// caller.
func Main(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		usage(env.Stderr)
		return errUsage("a command is required")
	}
	if isHelp(args[0]) {
		if len(args) > 1 && args[0] == "help" {
			return Main(ctx, env, append(args[1:], "--help"))
		}
		usage(env.Stdout)
		return nil
	}
	run, ok := commands[args[0]]
	if !ok {
		return errUsage(fmt.Sprintf("unknown command %q (see tenantgate --help)", args[0]))
	}
	if err := run(ctx, env, args[1:]); !isHelpErr(err) {
		return err
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "tenantgate: database-per-tenant edge proxy for MicroFi, and its operator tools\n\nUsage:\n  tenantgate <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, docs[n].summary)
	}
	fmt.Fprintln(w, "\nRun `tenantgate <command> --help` for a command's flags and an example.\nEvery flag can also be set as TENANTGATE_<FLAG> (e.g. TENANTGATE_DATA_DIR); the flag wins.")
}

// usageError is a mistake in how a command was called (exit status 2).
type usageError string

func (e usageError) Error() string { return string(e) }

func errUsage(msg string) error { return usageError(msg) }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// commandFlags is a subcommand's flag set: --data-dir is always there,
// flags may sit anywhere among the arguments, and every flag falls back to
// its TENANTGATE_* environment variable.
type commandFlags struct {
	*flag.FlagSet
	env     *Env
	name    string
	extra   string // more help text, after the synopsis
	dataDir *string
	args    []string
}

// flagSet starts the flag set of a command; name is its full name
// ("tenants create"), which must have an entry in docs.
func (e *Env) flagSet(name string) *commandFlags {
	fs := flag.NewFlagSet("tenantgate "+name, flag.ContinueOnError)
	// The flag package would print its own error and the whole usage on
	// stderr; parse prints help on request and returns errors instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := &commandFlags{FlagSet: fs, env: e, name: name}
	f.dataDir = fs.String("data-dir", "./data", "`DIR` for the catalog, tenant databases and the JWT key")
	return f
}

// catalogURL adds --catalog-url, the catalog every command but serve may
// name instead of the data dir's file.
func (f *commandFlags) catalogURL() *string {
	return f.String("catalog-url", "", "catalog database `URL` (default file:<data-dir>/catalog.db)")
}

// parse parses args, then fills every flag not given on the command line
// from TENANTGATE_<FLAG>. A help request prints the help on stdout and
// returns errHelp.
func (f *commandFlags) parse(args []string) error {
	pos, err := parseInterspersed(f.FlagSet, args)
	if isHelpErr(err) {
		printCommandHelp(f.env.Stdout, f.name, f.FlagSet, f.extra)
		return errHelp
	}
	if err != nil {
		return errUsage(fmt.Sprintf("%s: %v (see tenantgate %s --help)", f.name, err, f.name))
	}
	f.args = pos
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		if set[fl.Name] || f.env.Getenv == nil {
			return
		}
		key := "TENANTGATE_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v := f.env.Getenv(key); v != "" {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, errUsage(fmt.Sprintf("%s=%q: %v", key, v, err)))
			}
		}
	})
	return errors.Join(errs...)
}

// NArg and Arg are the positional arguments, wherever they stood.
func (f *commandFlags) NArg() int { return len(f.args) }

// Arg is the i'th positional argument, or "".
func (f *commandFlags) Arg(i int) string {
	if i < 0 || i >= len(f.args) {
		return ""
	}
	return f.args[i]
}

// DataDir is the --data-dir value.
func (f *commandFlags) DataDir() string { return *f.dataDir }

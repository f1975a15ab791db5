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
}

// command is one subcommand.
type command struct {
	run     func(ctx context.Context, env *Env, args []string) error
	summary string
}

var commands = map[string]command{
	"serve":   {runServe, "run the proxy"},
	"tenants": {runTenants, "create, list, suspend, resume or delete tenants"},
	"token":   {runToken, "print a signed JWT for a tenant"},
	"migrate": {runMigrate, "migrate the catalog and every tenant database (migrate status: report versions)"},
	"import":  {runImport, "import legacy or shared databases into tenant databases"},
	"backup":  {runBackup, "write consistent snapshots of tenant databases"},
	"restore": {runRestore, "restore a tenant database from a snapshot"},
	"verify":  {runVerify, "prove tenant ledgers read-only: integrity, stamp, tenant ids, balances vs postings, idempotency, foreign schema (exit 1 on findings)"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := Main(ctx, env, os.Args[1:])
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tenantgate:", err)
		}
		os.Exit(exitCode(err))
	}
}

// Main runs one subcommand.
func Main(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return errUsage("a command is required")
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(env.Stderr)
		return errUsage(fmt.Sprintf("unknown command %q", args[0]))
	}
	return cmd.run(ctx, env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tenantgate <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set as TENANTGATE_<FLAG> (e.g. TENANTGATE_DATA_DIR); the flag wins.")
}

// usageError is a mistake in how a command was called (exit status 2).
type usageError string

func (e usageError) Error() string { return string(e) }

func errUsage(msg string) error { return usageError(msg) }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// commandFlags is a subcommand's flag set: --data-dir is always there, and
// every flag falls back to its TENANTGATE_* environment variable.
type commandFlags struct {
	*flag.FlagSet
	env     *Env
	dataDir *string
}

// flagSet starts the flag set of a subcommand.
func (e *Env) flagSet(name string) *commandFlags {
	fs := flag.NewFlagSet("tenantgate "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	f := &commandFlags{FlagSet: fs, env: e}
	f.dataDir = fs.String("data-dir", "./data", "directory for the catalog, tenant databases and the JWT key")
	return f
}

// parse parses args, then fills every flag not given on the command line
// from TENANTGATE_<FLAG>.
func (f *commandFlags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage(err.Error())
	}
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
				errs = append(errs, errUsage(fmt.Sprintf("%s: %v", key, err)))
			}
		}
	})
	return errors.Join(errs...)
}

// DataDir is the --data-dir value.
func (f *commandFlags) DataDir() string { return *f.dataDir }

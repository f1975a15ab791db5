package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// doc is the help text of one command or subcommand.
type doc struct {
	summary string // one line, lower case, no full stop
	args    string // synopsis after the command name, e.g. "HOST_OR_ID [flags]"
	example string // one or more full command lines
}

// docs holds every command's help, keyed by its full name ("tenants create").
// The help printer and the command table both read it, so a command cannot
// exist without a description and an example.
var docs = map[string]doc{
	"serve": {"run the proxy (tenant hosts, public site, admin panel; metrics on a second port)", "[flags]",
		"tenantgate serve --data-dir /var/lib/tenantgate --listen :8080 --metrics-listen 127.0.0.1:9090"},
	"tenants": {"create, list, update, suspend, resume or delete tenants", "<create|list|update|suspend|resume|delete> [flags]",
		"tenantgate tenants list"},
	"tenants create": {"provision a tenant: catalog row plus its own migrated database (creates the data dir if needed)", "--host H --name N --country CC [flags]",
		`tenantgate tenants create --host acme --name "Acme Savings" --country GH --sample-data`},
	"tenants list": {"list tenants as a table or JSON", "[flags]",
		"tenantgate tenants list --query acme --json"},
	"tenants update": {"change a tenant's name, plan or storage quota", "HOST_OR_ID [--name N] [--plan P] [--quota SIZE] [flags]",
		"tenantgate tenants update acme --plan growth --quota 20GiB"},
	"tenants suspend": {"suspend a tenant (its hosts answer 403 until resumed)", "HOST_OR_ID [flags]",
		"tenantgate tenants suspend acme"},
	"tenants resume": {"make a suspended or demo tenant active again", "HOST_OR_ID [flags]",
		"tenantgate tenants resume acme"},
	"tenants delete": {"remove a tenant and its database, keeping a backup unless --no-backup", "HOST_OR_ID [flags]",
		"tenantgate tenants delete acme --backup-dir /var/backups/tenantgate"},
	"token": {"print a signed JWT for a tenant role or for the platform admin", "--role ROLE [--tenant HOST_OR_ID] [flags]",
		"tenantgate token --tenant acme --role staff --user 2 --ttl 8h\ntenantgate token --role platform_admin"},
	"migrate": {"migrate the catalog and every tenant database to the newest schema (see also: migrate status)", "[status] [flags]",
		"tenantgate migrate --dry-run\ntenantgate migrate --backup-dir /var/backups/pre-migrate"},
	"migrate status": {"report schema versions; exits 1 if a tenant is behind or unreadable", "[flags]",
		"tenantgate migrate status || echo 'fleet not current'"},
	"import": {"import a legacy or shared MicroFi database into tenant databases", "--legacy FILE --tenant HOST_OR_ID | --shared FILE [flags]",
		"tenantgate import --legacy microfi.db --tenant demo\ntenantgate import --shared microfi-shared.db"},
	"backup": {"write consistent, verified snapshots of tenant databases", "--tenant HOST_OR_ID --out FILE|DIR | --all --out DIR [flags]",
		"tenantgate backup --tenant acme --out /var/backups/tenantgate\ntenantgate backup --all --out /var/backups/tenantgate   # nightly: a new dated folder each run"},
	"restore": {"replace a tenant's data with a snapshot written by tenantgate backup", "--tenant HOST_OR_ID --from FILE [flags]",
		"tenantgate restore --tenant acme --from /var/backups/tenantgate/2026-11-30T0200Z/3-acme.db"},
	"verify": {"prove tenant ledgers read-only: integrity, stamp, tenant ids, balances vs postings, idempotency records, foreign schema; exits 1 on any finding", "--tenant HOST_OR_ID | --all [flags]",
		"tenantgate verify --all --concurrency 8\ntenantgate verify --tenant acme --json"},
	"fleet": {"list the proxies registered in the catalog: address, version, tenant schema they serve, changes applied, heartbeat age", "[--json] [flags]",
		"tenantgate fleet\ntenantgate fleet --json --catalog-url libsql://catalog.internal:8080"},
	"version": {"print the version this binary was built from", "",
		"tenantgate version"},
	"tokens": {"revoke tokens", "revoke --tenant HOST_OR_ID [flags]",
		"tenantgate tokens revoke --tenant acme"},
	"tokens revoke": {"make every token of a tenant stop working, on every proxy within about a second", "--tenant HOST_OR_ID [flags]",
		"tenantgate tokens revoke --tenant acme"},
	"audit": {"check the audit trails", "verify [flags]",
		"tenantgate audit verify --all"},
	"audit verify": {"check the audit trails' hash chains for gaps and edits; exits 1 on any finding", "--tenant HOST_OR_ID | --all [--json] [flags]",
		"tenantgate audit verify --tenant acme\ntenantgate audit verify --all --json"},
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// printCommandHelp writes a command's description, synopsis, example and
// (if fs is not nil) its flags.
func printCommandHelp(w io.Writer, name string, fs *flag.FlagSet, extra string) {
	d := docs[name]
	fmt.Fprintf(w, "tenantgate %s: %s\n\nUsage:\n  tenantgate %s %s\n", name, d.summary, name, d.args)
	if extra != "" {
		fmt.Fprintf(w, "\n%s\n", extra)
	}
	if d.example != "" {
		fmt.Fprintln(w, "\nExample:")
		for _, l := range strings.Split(d.example, "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if fs != nil {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, fs)
		fmt.Fprintln(w, "\nFlags may come before or after arguments. Every flag can also be set as\nTENANTGATE_<FLAG> (e.g. TENANTGATE_DATA_DIR); the command line wins.")
	}
}

// printFlags lists flags as "--name PLACEHOLDER" with the description and
// default on the next line. The placeholder is the usage's `quoted` word,
// else the value's type (flag.UnquoteUsage).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(fl *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if placeholder != "" {
			line += " " + placeholder
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if def := fl.DefValue; def != "" && def != "false" && def != "0" && def != "0s" && def != "[]" {
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}

// parseInterspersed parses flags anywhere among the arguments, as
// mainstream Go CLIs (pflag/cobra) do: the standard parser stops at the
// first positional argument, so it is set aside and parsing resumes after
// it. "--" ends flag parsing; everything after it is positional. Returns
// the positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// errHelp is returned by a command whose help was asked for: Main turns
// it into success after the help went to stdout.
var errHelp = flag.ErrHelp

// isHelpErr reports whether err is a help request.
func isHelpErr(err error) bool { return errors.Is(err, flag.ErrHelp) }

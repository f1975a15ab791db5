package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
)

// runFleet lists the proxies registered in the catalog: `tenantgate fleet`.
// (Migrating the tenant databases of the fleet is `tenantgate migrate`.)
func runFleet(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("fleet")
	asJSON := f.Bool("json", false, "print JSON instead of a table")
	catURL := f.catalogURL()
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return errUsage(fmt.Sprintf("fleet: unexpected argument %q", f.Arg(0)))
	}
	t, err := openExisting(ctx, f.DataDir(), *catURL)
	if err != nil {
		return err
	}
	defer t.Close()
	view, err := registry.Snapshot(ctx, t.catalog, "")
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, view)
	}
	w := env.Stdout
	fmt.Fprintf(w, "catalog change position: changes %d, revocations %d\n", view.Position.Changes, view.Position.Revocations)
	fmt.Fprintf(w, "%d live of %d registered proxies\n", view.Live, len(view.Proxies))
	if len(view.Proxies) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tVERSION\tSCHEMA\tAPPLIED\tSTATE\tHEARTBEAT\tUP")
	for _, p := range view.Proxies {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s ago\t%s\n", p.ID, p.Address, p.Version, p.TenantSchema,
			appliedLabel(p.Applied, view.Position), p.State, p.Age.Round(100*time.Millisecond),
			time.Since(p.StartedAt).Round(time.Second))
	}
	return tw.Flush()
}

// appliedLabel shows a proxy's applied position, and how far behind the
// catalog it is.
func appliedLabel(p, now catalog.Position) string {
	s := strconv.FormatInt(p.Changes, 10) + "/" + strconv.FormatInt(p.Revocations, 10)
	if behind := (now.Changes - p.Changes) + (now.Revocations - p.Revocations); behind > 0 {
		s += fmt.Sprintf(" (%d behind)", behind)
	}
	return s
}

// ackFlag is the --ack-timeout flag of commands whose change must be in
// force on every proxy before they return.
func ackFlag(f *commandFlags) *time.Duration {
	return f.Duration("ack-timeout", registry.DefaultAckTimeout,
		"wait up to `DURATION` for every live proxy to apply the change (0 = do not wait)")
}

// awaitFleet waits until every live proxy has applied the catalog changes
// made so far and reports it on w (stderr: stdout carries the command's
// JSON). A proxy that had not is named in the error; the change itself is
// committed either way.
func awaitFleet(ctx context.Context, w io.Writer, cat *catalog.Catalog, timeout time.Duration) error {
	if timeout <= 0 {
		return nil
	}
	ack, err := registry.AwaitLatest(ctx, cat, timeout)
	if err != nil {
		return err
	}
	if len(ack.Proxies) == 0 {
		fmt.Fprintln(w, "no live proxies registered: nothing to wait for")
		return nil
	}
	fmt.Fprintf(w, "in force on all %d live proxies after %s\n", len(ack.Proxies), ack.Elapsed.Round(time.Millisecond))
	return nil
}

// advertiseAddr is the address a proxy registers: the flag, else the
// listener's, with this host's name when it listens on every interface.
func advertiseAddr(given string, ln net.Addr) string {
	if given != "" {
		return given
	}
	if ln == nil {
		return ""
	}
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return ln.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

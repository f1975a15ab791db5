package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/microfi/tenantgate/loadtest/floor"
	"github.com/microfi/tenantgate/loadtest/microfi"
)

// floorMain runs `loadtest floor`: prepare the tenant files and serve.
func floorMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadtest floor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	dir := fs.String("data-dir", "", "directory for the tenant SQLite files (required)")
	n := fs.Int("tenants", 100, "number of tenants")
	prefix := fs.String("prefix", "fl", "tenant host prefix")
	accounts := fs.Int("accounts", 4, "accounts per tenant")
	root := fs.String("root-domain", "microfi.localhost", "root domain (informational; the first host label names the tenant)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "loadtest floor: serve tenant SQLite point reads with plain fasthttp, the physical floor the proxy is measured against\n\nUsage:\n  loadtest floor --data-dir DIR [flags]\n\nExample:\n  loadtest floor --data-dir /tmp/floor --tenants 100\n\nFlags:\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintf(stderr, "loadtest floor: %v (see loadtest floor --help)\n", err)
		return exitUsage
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "loadtest floor: --data-dir is required")
		return exitUsage
	}
	if err := floor.Prepare(ctx, *dir, *prefix, *n, *accounts); err != nil {
		fmt.Fprintf(stderr, "loadtest floor: %v\n", err)
		return exitError
	}
	s := &floor.Server{DataDir: *dir, RootDomain: *root, Prefix: *prefix}
	if err := s.Open(ctx, *n); err != nil {
		fmt.Fprintf(stderr, "loadtest floor: %v\n", err)
		return exitError
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest floor: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "floor: listening on %s\n", ln.Addr())
	go func() { <-ctx.Done(); ln.Close() }()
	if err := s.Serve(ln); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "loadtest floor: %v\n", err)
		return exitError
	}
	return exitOK
}

// floorProc is a floor server run as a child process (so it does not share
// the harness's Go runtime, like the proxy).
type floorProc struct {
	cmd     *exec.Cmd
	dir     string
	baseURL string
	tenants []*microfi.Tenant
}

func startFloor(ctx context.Context, o *Options, stderr io.Writer) (*floorProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	dir, err := os.MkdirTemp("", "tenantgate-floor-")
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	const accounts = 4
	f := &floorProc{dir: dir}
	f.cmd = exec.Command(self, "floor", "--data-dir", dir, "--tenants", fmt.Sprint(o.Tenants), "--accounts", fmt.Sprint(accounts), "--root-domain", o.RootDomain)
	f.cmd.Stderr = stderr
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if err := f.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("floor: start: %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "floor: listening on "); ok {
				lines <- addr
			}
		}
		close(lines)
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			f.stop()
			return nil, fmt.Errorf("floor: exited before listening")
		}
		f.baseURL = "http://" + addr
	case <-time.After(5 * time.Minute):
		f.stop()
		return nil, fmt.Errorf("floor: not listening after 5 minutes")
	case <-ctx.Done():
		f.stop()
		return nil, ctx.Err()
	}
	for i, h := range floor.Hosts("fl", o.Tenants) {
		ids := make([]int64, accounts)
		for a := range ids {
			ids[a] = int64(a + 1)
		}
		f.tenants = append(f.tenants, &microfi.Tenant{ID: int64(i + 1), Sub: h, Host: h + "." + o.RootDomain, Token: "floor", ServiceToken: "floor", Accounts: ids})
	}
	return f, nil
}

func (f *floorProc) stop() {
	if f.cmd != nil && f.cmd.Process != nil {
		_ = f.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = f.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = f.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(f.dir)
}

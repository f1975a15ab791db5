package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The tests in this file run the real binary, as an operator does: exit
// status, what lands on stdout and on stderr, and files left behind.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	runCrashChild() // crash_test.go: this binary as a CLI process to kill
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// tenantgateBin builds ./cmd/tenantgate once per test run, the way `make
// run` does (so the version stamp is tested too).
func tenantgateBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tenantgate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "tenantgate")
		out, err := exec.Command("make", "-s", "-C", "../..", "build-proxy", "BIN="+dir).CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build tenantgate: %v", binErr)
	}
	return binPath
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary in dir (the working directory) with a clean
// TENANTGATE_* environment.
func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(tenantgateBin(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TENANTGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run tenantgate %v: %v", args, err)
	}
	return r
}

// must runs the binary and fails the test unless it exits 0.
func must(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := run(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("tenantgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func TestCLIHelp(t *testing.T) {
	dir := t.TempDir()
	flagLine := regexp.MustCompile(`^  --[a-z0-9-]+( [A-Z_|]+| string| int| duration| float| value| uint)?$`)
	for name, d := range docs {
		for _, help := range []string{"--help"} {
			args := append(strings.Fields(name), help)
			r := run(t, dir, args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
				continue
			}
			if !strings.HasPrefix(r.stdout, "tenantgate "+name+": "+d.summary+"\n") ||
				!strings.Contains(r.stdout, "\nUsage:\n  tenantgate "+name) || !strings.Contains(r.stdout, "\nExample:\n  tenantgate "+strings.Fields(name)[0]) {
				t.Errorf("%v: help lacks description, usage or example:\n%s", args, r.stdout)
			}
			if strings.Contains(r.stdout, "Usage of") {
				t.Errorf("%v: flag package's default usage:\n%s", args, r.stdout)
			}
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "  --") && !flagLine.MatchString(l) {
					t.Errorf("%v: flag line with a bad placeholder: %q", args, l)
				}
			}
		}
	}
	if r := run(t, dir, "tenants", "create", "-h"); r.code != 0 || !strings.HasPrefix(r.stdout, "tenantgate tenants create: ") {
		t.Errorf("-h: exit %d, %q", r.code, r.stdout)
	}
	// The group and top-level help list every command with its summary.
	top := must(t, dir, "--help")
	for _, c := range []string{"serve", "tenants", "token", "migrate", "import", "backup", "restore", "version"} {
		if !strings.Contains(top, "  "+c) {
			t.Errorf("top-level help lacks %s:\n%s", c, top)
		}
	}
	if out := must(t, dir, "tenants", "--help"); !strings.Contains(out, "suspend  "+docs["tenants suspend"].summary) {
		t.Errorf("tenants --help:\n%s", out)
	}
	if out := must(t, dir, "help", "tenants", "delete"); !strings.Contains(out, "tenantgate tenants delete HOST_OR_ID") {
		t.Errorf("help tenants delete:\n%s", out)
	}
	if out := must(t, dir, "migrate", "--help"); !strings.Contains(out, "status   "+docs["migrate status"].summary) {
		t.Errorf("migrate --help does not mention migrate status:\n%s", out)
	}
	// The version is stamped from git at build time.
	if desc, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		if out := must(t, dir, "version"); !strings.HasPrefix(out, "tenantgate (version="+strings.TrimSpace(string(desc))+",") {
			t.Errorf("version: %q, git describe %q", out, desc)
		}
	}
	// make run builds the proxy only (the load tester took most of a first
	// run's build time).
	if plan, err := exec.Command("make", "-n", "-C", "../..", "run").Output(); err != nil || strings.Contains(string(plan), "cmd/loadtest") ||
		!strings.Contains(string(plan), "./cmd/tenantgate") {
		t.Errorf("make run builds:\n%s (%v)", plan, err)
	}
	// Help wrote no state.
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help created %v", entries)
	}
}

// A mistake prints one clear line on stderr, nothing on stdout, exit 2.
func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--role", "staff", "--ttl", "abc"}, `token: invalid value "abc" for flag -ttl`},
		{[]string{"tenants", "list", "--bogus"}, "tenants list: flag provided but not defined: -bogus"},
		{[]string{"tenants", "frobnicate"}, `tenants: unknown subcommand "frobnicate"`},
		{[]string{"tenants"}, "tenants: a subcommand is required"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"tenants", "delete", "a", "b"}, "tenants delete: exactly one HOST_OR_ID is required, got 2"},
		{[]string{"backup", "--all"}, "backup: --out is required"},
	} {
		r := run(t, dir, tc.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 2 || r.stdout != "" || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant one line with %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

// Commands that read state refuse a data dir without it instead of
// creating a new key or an empty catalog; tenants create makes one.
func TestCLIDataDir(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--role", "platform_admin"}, "no jwt.secret in ./data; pass --data-dir or --jwt-secret"},
		{[]string{"token", "--role", "staff", "--tenant", "demo", "--jwt-secret", strings.Repeat("k", 32)}, "no catalog.db in ./data; pass --data-dir or --catalog-url"},
		{[]string{"tenants", "list", "--data-dir", "empty"}, "no catalog.db in empty;"},
		{[]string{"tenants", "suspend", "demo"}, "no catalog.db in ./data"},
		{[]string{"migrate", "status"}, "no catalog.db in ./data"},
		{[]string{"migrate"}, "no catalog.db in ./data"},
		{[]string{"backup", "--all", "--out", "bk"}, "no catalog.db in ./data"},
		{[]string{"restore", "--tenant", "demo", "--from", "x.db"}, "no catalog.db in ./data"},
	} {
		r := run(t, dir, tc.args...)
		if r.code != 1 || strings.TrimSpace(r.stderr) != "tenantgate: "+tc.want && !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("read-only commands created %v", entries)
	}

	// tenants create makes the data dir, nested, and its catalog.
	data := filepath.Join("new", "data")
	must(t, dir, "tenants", "create", "--data-dir", data, "--host", "acme", "--name", "Acme Savings", "--country", "GH")
	if _, err := os.Stat(filepath.Join(dir, data, "catalog.db")); err != nil {
		t.Fatal(err)
	}

	// Taken host and id say which, without blaming the catalog.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--host", "acme", "--name", "Other"}, `tenantgate: tenants create: host "acme" is already taken by another tenant; choose another --host`},
		{[]string{"--host", "other", "--name", "Other", "--id", "1"}, "tenantgate: tenants create: invalid tenant: id is already taken or was used before (ids are never reused); leave it out for the next free one or pick one above 1"},
	} {
		args := append([]string{"tenants", "create", "--data-dir", data, "--country", "GH"}, tc.args...)
		if r := run(t, dir, args...); r.code != 1 || strings.TrimSpace(r.stderr) != tc.want {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}

	// Flags after the positional argument.
	must(t, dir, "tenants", "create", "--data-dir", data, "--host", "todelete", "--name", "To Delete", "--country", "GH")
	out := must(t, dir, "tenants", "suspend", "todelete", "--data-dir", data)
	if !strings.Contains(out, `"status": "suspended"`) {
		t.Errorf("suspend: %s", out)
	}
	out = must(t, dir, "tenants", "delete", "todelete", "--no-backup", "--data-dir", data)
	if !strings.Contains(out, `"host": "todelete"`) {
		t.Errorf("delete: %s", out)
	}
	// "--" ends the flags.
	if r := run(t, dir, "tenants", "delete", "--data-dir", data, "--", "--no-backup"); r.code != 1 || !strings.Contains(r.stderr, `tenant "--no-backup": tenant not found`) {
		t.Errorf("after --: exit %d, %q", r.code, r.stderr)
	}
}

// Backups and fleet status as a nightly job and a deploy script see them.
func TestCLIBackupAndStatus(t *testing.T) {
	dir := t.TempDir()
	for _, h := range []string{"one", "two", "three"} {
		must(t, dir, "tenants", "create", "--host", h, "--name", "Tenant "+h, "--country", "UG")
	}
	out := must(t, dir, "migrate")
	if !strings.Contains(out, "nothing to do: every tenant database is already on version") || strings.Contains(out, "to bring to") {
		t.Errorf("migrate on a current fleet:\n%s", out)
	}
	if out := must(t, dir, "migrate", "status"); !strings.Contains(out, "every tenant is on the newest version") {
		t.Errorf("status:\n%s", out)
	}
	out = must(t, dir, "migrate", "--dry-run", "--progress-every", "1")
	if strings.Contains(out, "(migrated") || !strings.Contains(out, "progress: 3/3 tenants (would migrate 0") {
		t.Errorf("dry run progress:\n%s", out)
	}

	// One tenant into an existing directory: a dated file in it.
	must(t, dir, "backup", "--tenant", "two", "--out", ".")
	if m, _ := filepath.Glob(filepath.Join(dir, "2-two-*Z.db")); len(m) != 1 {
		t.Errorf("single-tenant backup into a directory: %v", m)
	}
	// An existing file is refused with a hint.
	os.WriteFile(filepath.Join(dir, "taken.db"), []byte("x"), 0o644)
	if r := run(t, dir, "backup", "--tenant", "two", "--out", "taken.db"); r.code != 1 || !strings.Contains(r.stderr, "taken.db already exists and is never overwritten; give a new file name or a directory") {
		t.Errorf("existing file: %d %q", r.code, r.stderr)
	}

	// Break tenant 2: the nightly backup reports it once, on stderr, and
	// does not call the set consistent; status fails for scripts.
	if err := os.Remove(filepath.Join(dir, "data", "tenants", "2.db")); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, "backup", "--all", "--out", "nightly")
	if r.code != 1 {
		t.Fatalf("backup with a broken tenant: exit %d", r.code)
	}
	errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(errLines) != 2 || !strings.HasPrefix(errLines[0], "tenant 2 (two): backup failed: ") || errLines[1] != "tenantgate: 1 of 3 tenant backups failed" {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "tenant 2 (two)") || !strings.Contains(r.stdout, "backed up 2 of 3 tenants") ||
		!strings.Contains(r.stdout, "1 failed (listed on stderr), so this set is incomplete") || strings.Contains(r.stdout, "consistent") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	// The next night's run gets its own folder instead of failing on names.
	r = run(t, dir, "backup", "--all", "--out", "nightly")
	if sets, _ := os.ReadDir(filepath.Join(dir, "nightly")); len(sets) != 2 || r.code != 1 || strings.Contains(r.stderr, "exists") {
		t.Errorf("second run: %d sets, exit %d, %q", len(sets), r.code, r.stderr)
	}
	r = run(t, dir, "migrate", "status")
	if r.code != 1 || !strings.Contains(r.stdout, "unreadable") || strings.TrimSpace(r.stderr) != "tenantgate: migrate status: 0 of 3 tenants behind and 1 unreadable; run tenantgate migrate" {
		t.Errorf("status with an unreadable tenant: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// Every command and tenants subcommand has a description and an example,
// so a new one cannot ship without help.
func TestEveryCommandDocumented(t *testing.T) {
	names := []string{}
	for n := range commands {
		names = append(names, n)
	}
	for n := range tenantsCommands {
		names = append(names, "tenants "+n)
	}
	for _, n := range names {
		if d := docs[n]; d.summary == "" || d.example == "" {
			t.Errorf("%s: no description or example in docs", n)
		}
	}
}

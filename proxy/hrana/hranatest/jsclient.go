package hranatest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// JSDir is the directory holding the @libsql/client test script and its
// package.json; `make test-deps` runs `npm ci` there.
func JSDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "js")
}

// RunJSClient runs testdata/js/client_test.mjs with node against url (with
// an optional bearer token), using table names prefixed with table. When
// connect is set ("127.0.0.1:PORT"), TCP goes there and the Host header
// stays url's host. It
// skips when node or the npm packages are missing, unless CI=true, where
// that is a failure.
func RunJSClient(t *testing.T, url, connect, token, table string) {
	t.Helper()
	RunJSScript(t, "client_test.mjs", url, connect, token, table)
}

// RunJSScript runs one of the scripts in testdata/js the same way:
// client_test.mjs (@libsql/client) or hrana3_test.mjs (@libsql/hrana-client
// asking for Hrana 3, over http:// or ws:// URLs).
func RunJSScript(t *testing.T, script, url, connect, token, table string, env ...string) {
	t.Helper()
	dir := JSDir()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@libsql", "client"))
	}
	if err != nil {
		msg := "node or @libsql/client missing (run: npm ci --prefix " + dir + "): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HRANA_URL="+url, "HRANA_TOKEN="+token, "HRANA_TABLE="+table, "HRANA_CONNECT="+connect)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("node %s failed: %v\n%s", script, err, out)
	}
}

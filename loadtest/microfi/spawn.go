package microfi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// SpawnOptions configures a proxy started by the harness.
type SpawnOptions struct {
	ModuleDir  string   // where `go build ./cmd/tenantgate` runs; found from the working directory when empty
	Bin        string   // a prebuilt tenantgate binary; built when empty
	RootDomain string   // --root-domain
	ExtraArgs  []string // more `serve` flags, e.g. --max-open-tenants=1000
	KeepData   bool     // leave the temporary directory behind
	Log        io.Writer
}

// Spawned is a tenantgate proxy running on loopback with a fresh data dir.
type Spawned struct {
	Bin        string // the tenantgate binary
	DataDir    string
	BaseURL    string // http://127.0.0.1:PORT
	MetricsURL string // http://127.0.0.1:PORT
	Secret     []byte // the JWT key it was started with
	LogPath    string // the proxy's stdout+stderr
	tmp        string
	keep       bool
	cmd        *exec.Cmd
	exited     chan error
}

// FindModuleDir walks up from dir to the directory holding go.mod.
func FindModuleDir(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find module: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("find module: no go.mod above %s", dir)
		}
		d = parent
	}
}

// FreePort returns a loopback address with a port that was free a moment ago.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// BuildTenantgate builds ./cmd/tenantgate of the module into dir.
func BuildTenantgate(ctx context.Context, moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "tenantgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tenantgate")
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/tenantgate: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// Spawn builds (unless opts.Bin is set) and starts `tenantgate serve` on
// free loopback ports with a fresh temporary data dir, and waits until it
// answers.
func Spawn(ctx context.Context, opts SpawnOptions) (*Spawned, error) {
	tmp, err := os.MkdirTemp("", "tenantgate-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	s := &Spawned{tmp: tmp, keep: opts.KeepData, DataDir: filepath.Join(tmp, "data"), exited: make(chan error, 1)}
	fail := func(err error) (*Spawned, error) {
		s.Stop()
		return nil, err
	}
	s.Bin = opts.Bin
	if s.Bin == "" {
		mod := opts.ModuleDir
		if mod == "" {
			if mod, err = FindModuleDir("."); err != nil {
				return fail(err)
			}
		}
		if opts.Log != nil {
			fmt.Fprintln(opts.Log, "spawn: building ./cmd/tenantgate …")
		}
		if s.Bin, err = BuildTenantgate(ctx, mod, tmp); err != nil {
			return fail(err)
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fail(fmt.Errorf("spawn: jwt key: %w", err))
	}
	s.Secret = []byte(hex.EncodeToString(key))
	listen, err := FreePort()
	if err != nil {
		return fail(err)
	}
	metrics, err := FreePort()
	if err != nil {
		return fail(err)
	}
	s.BaseURL, s.MetricsURL = "http://"+listen, "http://"+metrics
	root := opts.RootDomain
	if root == "" {
		root = "microfi.localhost"
	}
	args := append([]string{"serve", "--data-dir", s.DataDir, "--listen", listen, "--metrics-listen", metrics,
		"--root-domain", root, "--jwt-secret", string(s.Secret),
		// The harness is one address standing in for many clients: no
		// per-address connection cap, and it names its simulated clients
		// in X-Forwarded-For (per-address login limits).
		"--max-conns-per-ip", "0", "--trusted-proxies", "127.0.0.1/32,::1/128"}, opts.ExtraArgs...)
	s.LogPath = filepath.Join(tmp, "tenantgate.log")
	logf, err := os.Create(s.LogPath)
	if err != nil {
		return fail(fmt.Errorf("spawn: %w", err))
	}
	s.cmd = exec.Command(s.Bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = os.Environ()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fail(fmt.Errorf("spawn: start %s: %w", s.Bin, err))
	}
	go func() { s.exited <- s.cmd.Wait(); logf.Close() }()
	if err := s.waitReady(ctx, 90*time.Second); err != nil {
		return fail(fmt.Errorf("spawn: %w (log %s: %s)", err, s.LogPath, tail(s.LogPath)))
	}
	return s, nil
}

// waitReady polls /readyz on the metrics port (or any answer on the main
// port) until the proxy serves.
func (s *Spawned) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("tenantgate exited during startup: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if st, _, err := fasthttp.GetTimeout(nil, s.MetricsURL+"/readyz", time.Second); err == nil && st == 200 {
			return nil
		}
		if _, _, err := fasthttp.GetTimeout(nil, s.BaseURL+"/", time.Second); err == nil {
			return nil
		}
	}
	return errors.New("tenantgate did not become ready in time")
}

// PID is the proxy's process id (0 once stopped).
func (s *Spawned) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop sends SIGTERM, waits for a clean shutdown (then kills), and removes
// the temporary directory unless KeepData was set.
func (s *Spawned) Stop() error {
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-s.exited:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			err = <-s.exited
		}
		s.cmd = nil
	}
	if !s.keep && s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
	return err
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 800 {
		s = "…" + s[len(s)-800:]
	}
	return s
}

package certstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/certstore"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const secret = "0123456789abcdef0123456789abcdef"

// openCatalog opens (and migrates) a catalog file as a proxy would; each
// call is a separate connection pool, like a separate process.
func openCatalog(tb testing.TB, path string) *catalog.Catalog {
	tb.Helper()
	c, err := catalog.Open(context.Background(), "file:"+path, catalog.Options{Logger: quiet, PollInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func newStore(tb testing.TB, c *catalog.Catalog, key string, opts certstore.Options) *certstore.Store {
	tb.Helper()
	opts.Logger = quiet
	s, err := certstore.New(c.DB(), []byte(key), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestStorageSemantics(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, openCatalog(t, filepath.Join(t.TempDir(), "catalog.db")), secret, certstore.Options{})

	if _, err := s.Load(ctx, "certificates/ca/a.example/a.example.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load of a missing key: %v, want fs.ErrNotExist", err)
	}
	files := map[string]string{
		"acme/ca/users/ops@x/ops.json":                  "account",
		"certificates/ca/a.example/a.example.crt":       "cert a",
		"certificates/ca/a.example/a.example.json":      "meta a",
		"certificates/ca/ab.example/ab.example.crt":     "cert ab",
		"certificates/ca-other/c.example/c.example.crt": "cert c",
	}
	for k, v := range files {
		if err := s.Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store(ctx, "certificates/ca/a.example/a.example.crt", []byte("cert a v2")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "certificates/ca/a.example/a.example.crt"); err != nil || string(got) != "cert a v2" {
		t.Fatalf("load after overwrite = %q, %v", got, err)
	}

	list, err := s.List(ctx, "certificates", false)
	if err != nil || !slices.Equal(list, []string{"certificates/ca", "certificates/ca-other"}) {
		t.Fatalf("List(certificates, false) = %q, %v", list, err)
	}
	list, err = s.List(ctx, "certificates/ca", true)
	want := []string{"certificates/ca/a.example", "certificates/ca/a.example/a.example.crt",
		"certificates/ca/a.example/a.example.json", "certificates/ca/ab.example", "certificates/ca/ab.example/ab.example.crt"}
	if err != nil || !slices.Equal(list, want) {
		t.Fatalf("List(certificates/ca, true) = %q, %v; want %q", list, err, want)
	}
	if top, err := s.List(ctx, "", false); err != nil || !slices.Equal(top, []string{"acme", "certificates"}) {
		t.Fatalf("List(\"\", false) = %q, %v", top, err)
	}
	if _, err := s.List(ctx, "certificates/ca/a.ex", false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a prefix is matched by whole components: %v", err)
	}

	if !s.Exists(ctx, "certificates/ca/a.example") || !s.Exists(ctx, "certificates/ca/a.example/a.example.crt") {
		t.Fatal("Exists is false for a directory or file that exists")
	}
	if s.Exists(ctx, "certificates/ca/a.ex") {
		t.Fatal("Exists matched a partial component")
	}
	info, err := s.Stat(ctx, "certificates/ca/a.example/a.example.crt")
	if err != nil || !info.IsTerminal || info.Size != int64(len("cert a v2")) || time.Since(info.Modified) > time.Minute {
		t.Fatalf("Stat(file) = %+v, %v", info, err)
	}
	if info, err := s.Stat(ctx, "certificates/ca"); err != nil || info.IsTerminal {
		t.Fatalf("Stat(dir) = %+v, %v", info, err)
	}
	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v", err)
	}

	if err := s.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.example/a.example.json") || !s.Exists(ctx, "certificates/ca/ab.example/ab.example.crt") {
		t.Fatal("Delete of a directory removed the wrong keys")
	}
	if err := s.Delete(ctx, "never/stored"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

// Private keys are sealed at rest: the row holds no plaintext, another
// storage key cannot open them, and CheckKey says so at start-up.
func TestPrivateKeysAreSealed(t *testing.T) {
	ctx := context.Background()
	cat := openCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
	s := newStore(t, cat, secret, certstore.Options{})
	pemKey := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret material\n-----END EC PRIVATE KEY-----\n")
	const key = "certificates/ca/a.example/a.example.key"
	if err := s.Store(ctx, key, pemKey); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := cat.DB().QueryRowContext(ctx, `SELECT value FROM tls_storage WHERE key = ?`, key).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret material")) || bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatalf("private key stored in the clear: %q", raw)
	}
	if got, err := s.Load(ctx, key); err != nil || !bytes.Equal(got, pemKey) {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if err := s.CheckKey(ctx); err != nil {
		t.Fatalf("CheckKey with the right key: %v", err)
	}

	other := newStore(t, cat, "another secret that is long enough!!", certstore.Options{})
	if _, err := other.Load(ctx, key); !errors.Is(err, certstore.ErrWrongKey) {
		t.Fatalf("Load with another key: %v, want ErrWrongKey", err)
	}
	if err := other.CheckKey(ctx); !errors.Is(err, certstore.ErrWrongKey) {
		t.Fatalf("CheckKey with another key: %v, want ErrWrongKey", err)
	}

	// A sealed value moved under another key name does not open.
	if _, err := cat.DB().ExecContext(ctx, `INSERT INTO tls_storage (key, value, modified_ns) VALUES ('acme/ca/users/x/x.key', ?, 0)`, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "acme/ca/users/x/x.key"); !errors.Is(err, certstore.ErrWrongKey) {
		t.Fatalf("a sealed value under another name opened: %v", err)
	}
	if _, err := certstore.New(cat.DB(), []byte("short"), certstore.Options{}); err == nil {
		t.Fatal("a short storage key was accepted")
	}
}

// Two proxies (two connection pools on one catalog file) exclude each other;
// a held lock is kept alive past its TTL; a crashed holder's lock expires.
func TestLocksAcrossProxies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	// Generous lifetimes: a loaded CI machine must not let a held lock
	// expire between two extensions.
	ttl := 2 * time.Second
	a := newStore(t, openCatalog(t, path), secret, certstore.Options{LockTTL: ttl, LockPoll: 20 * time.Millisecond})
	bCat := openCatalog(t, path)
	b := newStore(t, bCat, secret, certstore.Options{LockTTL: ttl, LockPoll: 20 * time.Millisecond})
	expiry := func(name string) int64 {
		var ns int64
		if err := bCat.DB().QueryRowContext(ctx, `SELECT expires_ns FROM tls_locks WHERE name = ?`, name).Scan(&ns); err != nil {
			t.Fatal(err)
		}
		return ns
	}

	if err := a.Lock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	first := expiry("issue_cert_a.example")
	eventually(t, func() bool { return expiry("issue_cert_a.example") > first }, "the holder extends its lock")
	if ok, err := b.TryLock(ctx, "issue_cert_a.example"); err != nil || ok {
		t.Fatalf("b took a lock a holds: %v, %v", ok, err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_b.example"); err != nil || !ok {
		t.Fatalf("b could not take a free lock: %v, %v", ok, err)
	}
	if err := b.Unlock(ctx, "issue_cert_b.example"); err != nil {
		t.Fatal(err)
	}

	got := make(chan error, 1)
	go func() {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got <- b.Lock(lctx, "issue_cert_a.example")
	}()
	time.Sleep(100 * time.Millisecond)
	if err := a.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("b did not get the lock a released: %v", err)
	}
	if err := b.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}

	// A process that died holding a lock leaves a row nobody extends.
	const crashedTTL = 300 * time.Millisecond
	if _, err := bCat.DB().ExecContext(ctx, `INSERT INTO tls_locks (name, owner, expires_ns) VALUES ('crashed', 'dead/1', ?)`,
		time.Now().Add(crashedTTL).UnixNano()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Lock(lctx, "crashed"); err != nil {
		t.Fatalf("an expired lock was not taken over: %v", err)
	}
	if waited := time.Since(start); waited < crashedTTL/2 {
		t.Fatalf("took the crashed lock after %v, before it expired", waited)
	}
	if err := a.Unlock(ctx, "crashed"); err != nil {
		t.Fatal(err)
	}

	// Lock honours cancellation.
	if err := a.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer ccancel()
	if err := b.Lock(cctx, "held"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a held lock with a short context: %v", err)
	}
	a.Unlock(ctx, "held")

	// Many goroutines of both proxies: exactly one holds the lock at a time.
	var mu sync.Mutex
	holders, maxHolders := 0, 0
	var wg sync.WaitGroup
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range 3 {
				if err := s.Lock(ctx, "contended"); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				holders++
				maxHolders = max(maxHolders, holders)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				holders--
				mu.Unlock()
				if err := s.Unlock(ctx, "contended"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if maxHolders != 1 {
		t.Fatalf("%d holders at once", maxHolders)
	}
}

func eventually(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

func TestDomainStates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, openCatalog(t, filepath.Join(t.TempDir(), "catalog.db")), secret, certstore.Options{})
	notAfter := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetDomain(ctx, certstore.DomainStatus{Domain: "a.example", State: certstore.StateActive, NotAfter: notAfter}))
	must(s.SetDomain(ctx, certstore.DomainStatus{Domain: "b.example", State: certstore.StateFailed, LastError: "no such host"}))
	// A failed renewal keeps the not_after of the certificate still served.
	must(s.SetDomain(ctx, certstore.DomainStatus{Domain: "a.example", State: certstore.StateFailed, LastError: "timeout"}))
	got, err := s.Domains(ctx, "a.example", "b.example", "c.example")
	must(err)
	if len(got) != 2 || got["a.example"].State != certstore.StateFailed || !got["a.example"].NotAfter.Equal(notAfter) ||
		got["b.example"].LastError != "no such host" {
		t.Fatalf("Domains = %+v", got)
	}
	must(s.ForgetDomain(ctx, "a.example"))
	if got, _ := s.Domains(ctx, "a.example"); len(got) != 0 {
		t.Fatalf("forgotten domain still has a state: %+v", got)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Processes starting together on a fresh data dir all end up with the one
// key on disk, never a half-written one.
func TestJWTSecretRace(t *testing.T) {
	dir := t.TempDir()
	keys := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := jwtSecret(dir, "")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	onDisk, err := os.ReadFile(filepath.Join(dir, "jwt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !bytes.Equal(append(k, '\n'), onDisk) {
			t.Fatalf("key %q differs from the file's %q", k, onDisk)
		}
	}
	if info, _ := os.Stat(filepath.Join(dir, "jwt.secret")); info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", info.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".jwt.secret-*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

package tenants

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StaleAfter is how old a provisioning row of another machine must be
// before reconciliation treats its creator as dead (its lock file is not
// visible from here). A create takes seconds.
const StaleAfter = time.Hour

// ownerLock marks one create in progress: a lock file held with flock for
// the create's duration. The kernel drops the lock when the process dies,
// however it dies, so reconciliation can tell a live create (locked) from a
// crashed one (unlocked or missing) without guessing from timestamps.
type ownerLock struct {
	f     *os.File
	path  string
	owner string // "<hostname> <lock path>", stored in the catalog row
}

func (s *Service) lockDir() string { return filepath.Join(s.tenantsDir(), ".provisioning") }

// lockOwner creates and locks a fresh owner file.
func (s *Service) lockOwner() (*ownerLock, error) {
	dir := s.lockDir()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("provisioning lock: %w", err)
	}
	b := make([]byte, 12)
	rand.Read(b)
	path, err := filepath.Abs(filepath.Join(dir, hex.EncodeToString(b)+".lock"))
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("provisioning lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("provisioning lock: %w", err)
	}
	return &ownerLock{f: f, path: path, owner: s.hostname + " " + path}, nil
}

// release removes the lock file while still holding it, then unlocks.
func (l *ownerLock) release() {
	os.Remove(l.path)
	l.f.Close()
}

// ownerAlive reports whether the create that owns a provisioning row is
// still running.
func (s *Service) ownerAlive(owner string, created time.Time) bool {
	host, path, ok := strings.Cut(owner, " ")
	if !ok || host != s.hostname {
		// Another machine (or a row from an older binary): only age tells.
		return s.now().Sub(created) < StaleAfter
	}
	return locked(path)
}

// locked reports whether someone holds the flock on path.
func locked(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false // gone: its create finished or never got this far
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false
	}
	return true // EWOULDBLOCK, or a failure we cannot read: assume alive
}

package certstore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"
)

// heldLock is a lock this process holds, with the goroutine that keeps
// extending it while the work goes on.
type heldLock struct {
	token string
	stop  chan struct{}
	done  chan struct{}
}

// Lock blocks until this process holds the named lock (or ctx ends). A lock
// left by a crashed process is taken over once its expiry passes.
func (s *Store) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		wait := s.opts.LockPoll/2 + rand.N(s.opts.LockPoll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// TryLock takes the named lock if it is free or expired.
func (s *Store) TryLock(ctx context.Context, name string) (bool, error) {
	token := s.owner + "/" + randomToken()
	now := time.Now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO tls_locks (name, owner, expires_ns) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_ns = excluded.expires_ns
		WHERE tls_locks.expires_ns < ?`,
		name, token, now.Add(s.opts.LockTTL).UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("tls storage: lock %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	h := &heldLock{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	if old := s.held[name]; old != nil {
		// Our own earlier hold expired and we took it over: retire its keeper.
		close(old.stop)
	}
	s.held[name] = h
	s.mu.Unlock()
	go s.keep(name, h)
	return true, nil
}

// Unlock releases a lock this process holds.
func (s *Store) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("tls storage: unlock %s: not held", name)
	}
	close(h.stop)
	<-h.done
	// Released even when the caller's context has ended (a cancelled order):
	// otherwise the lock would block other proxies until it expires.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tls_locks WHERE name = ? AND owner = ?`, name, h.token); err != nil {
		return fmt.Errorf("tls storage: unlock %s: %w", name, err)
	}
	return nil
}

// RenewLockLease extends a held lock to at least lease from now.
func (s *Store) RenewLockLease(ctx context.Context, name string, lease time.Duration) error {
	s.mu.Lock()
	h := s.held[name]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("tls storage: renew lock %s: not held", name)
	}
	return s.extend(ctx, name, h.token, max(lease, s.opts.LockTTL))
}

// keep extends the lock every quarter of its lifetime until released.
func (s *Store) keep(name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.opts.LockTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.LockTTL/4)
			err := s.extend(ctx, name, h.token, s.opts.LockTTL)
			cancel()
			if err != nil {
				s.log.Warn("tls storage: could not extend lock", "lock", name, "err", err)
			}
		}
	}
}

func (s *Store) extend(ctx context.Context, name, token string, lease time.Duration) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tls_locks SET expires_ns = ? WHERE name = ? AND owner = ?`,
		time.Now().Add(lease).UnixNano(), name, token)
	if err != nil {
		return fmt.Errorf("extend lock %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("extend lock %s: lost (expired and taken by another proxy)", name)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 12)
	crand.Read(b)
	return hex.EncodeToString(b)
}

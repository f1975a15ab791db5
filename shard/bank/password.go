package bank

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// PasswordParams are the argon2id parameters for new password hashes.
// Stored hashes carry their own parameters, so changing these only affects
// hashes written afterwards.
type PasswordParams struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32 // bytes
	SaltLen int    // bytes
}

// DefaultPasswordParams follow the OWASP argon2id recommendation
// (m=19 MiB, t=2, p=1): tens of milliseconds per hash, which is the cost an
// online guesser pays per attempt.
var DefaultPasswordParams = PasswordParams{Time: 2, Memory: 19 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// DemoPasswordParams are cheap argon2id parameters used only for the
// random 16-character passwords SeedDemo generates (~92 bits of entropy, so
// guessing is infeasible at any hash cost); they keep demo creation fast.
// Such a hash is upgraded to DefaultPasswordParams on its first successful
// login (see Store.Authenticate).
var DemoPasswordParams = PasswordParams{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

// Password length limits, in bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// hashSlots bounds concurrent hashes: each argon2id run holds Memory KiB
// and a whole core for tens of milliseconds, so a burst of logins queues
// on at most half the CPUs rather than exhaust memory or starve every other
// request of CPU.
// At least two, so one tenant's login flood (the proxy lets a tenant hold
// at most half of them) never takes them all.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)/2))

var errBadHash = errors.New("unrecognised password hash")

// dummyHash is verified against when the e-mail is unknown, so a miss costs
// the same as a wrong password and timing does not reveal which e-mails
// exist.
// It is computed on first use so importing the package costs nothing.
var dummyHash = sync.OnceValue(func() string {
	h, err := hashPassword(context.Background(), "dummy password for timing equality", DefaultPasswordParams)
	if err != nil {
		panic(err) // only crypto/rand failing; nothing sensible to do
	}
	return h
})

// HashPassword hashes a password with argon2id and DefaultPasswordParams in
// PHC string format ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func HashPassword(ctx context.Context, password string) (string, error) {
	return hashPassword(ctx, password, DefaultPasswordParams)
}

func hashPassword(ctx context.Context, password string, p PasswordParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	if err := acquireSlot(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	<-hashSlots
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func acquireSlot(ctx context.Context) error {
	select {
	case hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to hash password: %w", ctx.Err())
	}
}

// verifyPassword reports whether password matches hash, and whether the
// hash is weaker than DefaultPasswordParams (so it should be upgraded). It
// understands the argon2id hashes written here and bcrypt hashes
// ($2a$/$2b$/$2y$) imported from the legacy system.
func verifyPassword(ctx context.Context, hash, password string) (ok, weak bool, err error) {
	if strings.HasPrefix(hash, "$2") {
		if err := acquireSlot(ctx); err != nil {
			return false, false, err
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		<-hashSlots
		return err == nil, true, nil
	}
	p, salt, key, err := parseArgon2(hash)
	if err != nil {
		return false, false, err
	}
	if err := acquireSlot(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	<-hashSlots
	d := DefaultPasswordParams
	weak = uint64(p.Time)*uint64(p.Memory) < uint64(d.Time)*uint64(d.Memory)
	return subtle.ConstantTimeCompare(got, key) == 1, weak, nil
}

func parseArgon2(hash string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errBadHash
	}
	// Refuse absurd parameters from a tampered row rather than burn memory.
	if p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return p, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

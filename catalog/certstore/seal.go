package certstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// MinSecretLength is the shortest storage secret accepted.
const MinSecretLength = 32

// ErrWrongKey means a stored private key does not open with this secret:
// the proxy was started with a different --tls-storage-key than the one
// that stored it.
var ErrWrongKey = errors.New("tls storage: private key does not decrypt with this storage key")

// sealedMagic starts every sealed value (and versions the format).
var sealedMagic = []byte("tgk1")

// sealer encrypts private keys at rest.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("tls storage key must be at least %d bytes", MinSecretLength)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "tenantgate tls storage v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive tls storage key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// sensitive reports whether the value stored under key is a private key
// (certmagic names site and account keys "….key").
func sensitive(key string) bool { return strings.HasSuffix(key, ".key") }

// seal encrypts value, bound to its storage key (as additional data), so a
// sealed value copied under another key does not open.
func (s *sealer) seal(key string, value []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand panics instead)
	out := append(append([]byte{}, sealedMagic...), nonce...)
	return s.aead.Seal(out, nonce, value, []byte(key))
}

func (s *sealer) open(key string, sealed []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, sealedMagic)
	if !ok || len(rest) < s.aead.NonceSize() {
		return nil, fmt.Errorf("%w: %s is not sealed", ErrWrongKey, key)
	}
	nonce, ct := rest[:s.aead.NonceSize()], rest[s.aead.NonceSize():]
	plain, err := s.aead.Open(nil, nonce, ct, []byte(key))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrWrongKey, key)
	}
	return plain, nil
}

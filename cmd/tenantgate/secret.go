package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// readJWTSecret returns the HS256 key for a command that must sign with the
// server's key: the flag/variable value if given, else <data-dir>/jwt.secret,
// which must exist (a new random key would sign tokens the server rejects).
func readJWTSecret(dataDir, given string) ([]byte, error) {
	if given != "" {
		return jwtSecret(dataDir, given)
	}
	path := filepath.Join(dataDir, "jwt.secret")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no jwt.secret in %s; pass --data-dir or --jwt-secret", dataDir)
	}
	return jwtSecret(dataDir, "")
}

// jwtSecret returns the HS256 key: the flag/variable value if given, else
// <data-dir>/jwt.secret, created (mode 0600) on first use and reused. Only
// serve creates the key.
func jwtSecret(dataDir, given string) ([]byte, error) {
	return dataSecret(dataDir, "jwt.secret", "--jwt-secret", given)
}

// dataSecret returns a secret of at least 32 characters: the flag's value
// if given, else the file <data-dir>/<file>, created (mode 0600, 256 random
// bits in hex) on first use and reused.
func dataSecret(dataDir, file, flagName, given string) ([]byte, error) {
	if given != "" {
		if len(given) < 32 {
			return nil, errUsage(flagName + " must be at least 32 characters")
		}
		return []byte(given), nil
	}
	path := filepath.Join(dataDir, file)
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("%s: key shorter than 32 characters", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(raw)
	// Write the whole key to a private temp file, then link it into place:
	// the link is atomic and refuses an existing name, so a process that
	// loses a start-up race reads the winner's complete key, never a
	// half-written one.
	tmp, err := os.CreateTemp(dataDir, "."+file+"-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create %s: %w", file, err)
	}
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return dataSecret(dataDir, file, flagName, "") // another process won the race: use its key
	} else if err != nil {
		return nil, fmt.Errorf("create %s: %w", file, err)
	}
	return []byte(key), nil
}

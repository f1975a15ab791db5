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

// jwtSecret returns the HS256 key: the flag/variable value if given, else
// <data-dir>/jwt.secret, created (mode 0600) on first use and reused.
func jwtSecret(dataDir, given string) ([]byte, error) {
	if given != "" {
		if len(given) < 32 {
			return nil, errUsage("--jwt-secret must be at least 32 characters")
		}
		return []byte(given), nil
	}
	path := filepath.Join(dataDir, "jwt.secret")
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("%s: key shorter than 32 characters", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read jwt key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) { // another process won the race: use its key
		return jwtSecret(dataDir, "")
	}
	if err != nil {
		return nil, fmt.Errorf("create jwt key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(key + "\n"); err != nil {
		return nil, fmt.Errorf("write jwt key: %w", err)
	}
	return []byte(key), nil
}

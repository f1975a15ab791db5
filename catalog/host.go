package catalog

import (
	"fmt"
	"strings"
)

// MaxHostLength is the longest DNS name accepted (RFC 1035).
const MaxHostLength = 253

// NormalizeHost turns a Host header value into a lookup key: lower case,
// without port and without a trailing dot. It rejects anything that is not a
// valid DNS name, so garbage never reaches the catalog.
func NormalizeHost(raw string) (string, error) {
	h := strings.TrimSpace(raw)
	if h == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidHost)
	}
	if strings.HasPrefix(h, "[") { // IPv6 literal: never a tenant
		return "", fmt.Errorf("%w: IP literal", ErrInvalidHost)
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", fmt.Errorf("%w: bad port", ErrInvalidHost)
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if !ValidDomain(h) {
		return "", fmt.Errorf("%w: %q is not a DNS name", ErrInvalidHost, truncate(h, 64))
	}
	return h, nil
}

// ValidDomain reports whether s is a lower-case DNS name of LDH labels.
func ValidDomain(s string) bool {
	if s == "" || len(s) > MaxHostLength {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !ValidLabel(label) {
			return false
		}
	}
	return true
}

// ValidLabel reports whether s is one lower-case DNS label: 1–63 of a-z, 0-9
// and '-', not starting or ending with '-'.
func ValidLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

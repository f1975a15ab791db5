package tenants

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/bank"
)

// The one set of tenant rules, for every door (CLI, admin API, signup,
// demos). Each problem is reported per field in a *ValidationError.
const (
	MinHostLen = 3
	MaxHostLen = 40
	MinNameLen = 2
	MaxNameLen = 200
)

// Plans a tenant may be on; the first is the default.
var Plans = []string{"starter", "growth", "enterprise"}

// DemoHostPrefix starts every generated demo host; no other tenant may use it.
const DemoHostPrefix = "demo-"

// ShowcaseHost is the platform's own demo tenant (see EnsureShowcase).
const ShowcaseHost = "demo"

// reserved hosts name the platform's own hosts or would confuse users.
var reserved = map[string]bool{
	"www": true, "admin": true, "api": true, "app": true, "mail": true, "status": true, "demo": true,
	"assets": true, "static": true, "cdn": true, "docs": true, "help": true, "support": true,
	"blog": true, "billing": true, "dashboard": true, "login": true, "signup": true, "root": true,
	"smtp": true, "imap": true, "pop": true, "ftp": true, "ns1": true, "ns2": true, "mx": true,
	"metrics": true, "internal": true, "localhost": true,
}

// Reserved lists the reserved host labels, sorted (for documentation).
func Reserved() []string { return slices.Sorted(maps.Keys(reserved)) }

// ValidationError is a tenant refused by the rules, with one message per
// field (keys: id, host, name, country, subscription_plan, custom_domain,
// status, expires_at, db_url, storage_quota_bytes).
type ValidationError struct {
	Fields map[string]string
}

// Error lists the fields in a stable order, e.g. "invalid tenant: host is
// reserved; subscription_plan must be one of starter, growth, enterprise".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid tenant: ")
	for i, k := range slices.Sorted(maps.Keys(e.Fields)) {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + " " + e.Fields[k])
	}
	return b.String()
}

// problems collects field messages, keeping the first per field.
type problems map[string]string

func (p problems) add(field, msg string) {
	if msg != "" && p[field] == "" {
		p[field] = msg
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: map[string]string(p)}
}

// HostProblem checks a tenant host label (already trimmed): 3–40 of a-z,
// 0-9 and '-', no leading, trailing or double hyphen, not reserved, not
// under the demo prefix. It returns "" when the host is fine.
func HostProblem(s string) string {
	switch {
	case s == "":
		return "is required"
	case len(s) < MinHostLen || len(s) > MaxHostLen:
		return "must be 3–40 characters"
	case s != strings.ToLower(s):
		return "must be lowercase"
	case strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		return "may contain only letters a-z, digits and hyphens"
	case s[0] == '-' || s[len(s)-1] == '-':
		return "must not start or end with a hyphen"
	case strings.Contains(s, "--"):
		return "must not contain consecutive hyphens"
	case !catalog.ValidLabel(s):
		return "must be a valid DNS label"
	case reserved[s] || strings.HasPrefix(s, DemoHostPrefix):
		return "is reserved"
	}
	return ""
}

// NameProblem checks a trimmed institution name: 2–200 characters, none of
// them control or bidirectional-override characters.
func NameProblem(n string) string {
	switch c := utf8.RuneCountInString(n); {
	case n == "":
		return "is required"
	case !utf8.ValidString(n) || !catalog.DisplaySafe(n):
		return "must not contain control characters or bidirectional overrides"
	case c < MinNameLen:
		return "must be at least 2 characters"
	case c > MaxNameLen:
		return "must be at most 200 characters"
	}
	return ""
}

// CountryProblem checks an upper-cased country code.
func CountryProblem(cc string) string {
	if cc == "" {
		return "is required"
	}
	if _, ok := bank.CurrencyFor(cc); !ok || len(cc) != 2 {
		return "must be a supported ISO 3166-1 alpha-2 country code"
	}
	return ""
}

// PlanProblem checks a subscription plan.
func PlanProblem(p string) string {
	if !slices.Contains(Plans, p) {
		return "must be one of " + strings.Join(Plans, ", ")
	}
	return ""
}

// domainProblem checks a normalised custom domain: a bare DNS name of at
// least two labels, not the platform's root domain or under it.
func domainProblem(d, root string) string {
	switch {
	case d == "":
		return "is required"
	case strings.ContainsAny(d, ":/ "):
		return "must be a bare host name (no scheme, port or path)"
	case !catalog.ValidDomain(d) || !strings.Contains(d, "."):
		return "must be a DNS name such as bank.example.com"
	case root != "" && (d == root || strings.HasSuffix(d, "."+root)):
		return "must not be the root domain or under it"
	}
	return ""
}

// normalizeDomain trims, lower-cases and drops a trailing dot.
func normalizeDomain(raw string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
}

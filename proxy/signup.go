package proxy

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard/bank"
)

// Signup limits.
const (
	MinSubdomainLen      = 3
	MaxSubdomainLen      = 40
	MinSignupPasswordLen = bank.MinPolicyPasswordLen
	MaxSignupNameLen     = 100
)

// reservedSubdomains can never be a tenant: they name the platform's own
// hosts or would confuse users. "demo-…" is also reserved (see
// validateSubdomain): that prefix belongs to generated demo tenants.
var reservedSubdomains = map[string]bool{
	"www": true, "admin": true, "api": true, "app": true, "mail": true, "status": true, "demo": true,
	"assets": true, "static": true, "cdn": true, "docs": true, "help": true, "support": true,
	"blog": true, "billing": true, "dashboard": true, "login": true, "signup": true, "root": true,
	"smtp": true, "imap": true, "pop": true, "ftp": true, "ns1": true, "ns2": true, "mx": true,
	"metrics": true, "internal": true, "localhost": true,
}

// signupRequest is the body of POST /api/public/signup.
type signupRequest struct {
	Name      string `json:"name"`
	Country   string `json:"country"`
	Email     string `json:"email"`
	Password  string `json:"password"`
	Subdomain string `json:"subdomain"`
}

// normalizeSignup validates a signup and normalises it in place (trimmed
// name, upper-case country, lower-case e-mail, the subdomain derived from
// the name when none was given). It returns the problems per JSON field;
// nil means the signup is valid.
func normalizeSignup(req *signupRequest) map[string]string {
	errs := map[string]string{}
	add := func(field, msg string) {
		if _, ok := errs[field]; !ok {
			errs[field] = msg
		}
	}

	req.Name = strings.TrimSpace(req.Name)
	switch n := utf8.RuneCountInString(req.Name); {
	case n == 0:
		add("name", "is required")
	case n < 2:
		add("name", "must be at least 2 characters")
	case n > MaxSignupNameLen:
		add("name", "must be at most 100 characters")
	case !utf8.ValidString(req.Name) || strings.IndexFunc(req.Name, unicode.IsControl) >= 0:
		add("name", "must not contain control characters")
	}

	req.Country = strings.ToUpper(strings.TrimSpace(req.Country))
	if req.Country == "" {
		add("country", "is required")
	} else if _, ok := bank.CurrencyFor(req.Country); !ok || len(req.Country) != 2 {
		add("country", "must be a supported ISO 3166-1 alpha-2 country code")
	}

	req.Email = bank.NormalizeEmail(req.Email)
	if msg := emailProblem(req.Email); msg != "" {
		add("email", msg)
	}

	if msg := passwordProblem(req.Password, req.Email); msg != "" {
		add("password", msg)
	}

	req.Subdomain = strings.TrimSpace(req.Subdomain)
	if req.Subdomain == "" {
		if _, bad := errs["name"]; !bad {
			req.Subdomain = deriveSubdomain(req.Name)
			if msg := subdomainProblem(req.Subdomain); msg != "" {
				add("subdomain", "could not be derived from the name ("+msg+"); choose one")
			}
		}
	} else if msg := subdomainProblem(req.Subdomain); msg != "" {
		add("subdomain", msg)
	}

	if len(errs) == 0 {
		return nil
	}
	return errs
}

func emailProblem(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters"
	}
	at := strings.LastIndexByte(email, '@')
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || at <= 0 || !strings.Contains(email[at+1:], ".") ||
		strings.HasPrefix(email[at+1:], ".") || strings.HasSuffix(email, ".") {
		return "must be a valid e-mail address"
	}
	return ""
}

// passwordProblem is the platform's one password policy (bank.PasswordProblem).
func passwordProblem(pw, email string) string { return bank.PasswordProblem(pw, email) }

// subdomainProblem checks a requested tenant host: one lower-case DNS label
// of 3–40 characters that is not reserved.
func subdomainProblem(s string) string {
	switch {
	case len(s) < MinSubdomainLen || len(s) > MaxSubdomainLen:
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
	case reservedSubdomains[s] || strings.HasPrefix(s, "demo-"):
		return "is reserved"
	}
	return ""
}

// foldAccents maps common Latin letters with diacritics to ASCII, so
// "Société Générale" derives "societe-generale".
var foldAccents = strings.NewReplacer(
	"à", "a", "á", "a", "â", "a", "ã", "a", "ä", "a", "å", "a", "æ", "ae", "ç", "c",
	"è", "e", "é", "e", "ê", "e", "ë", "e", "ì", "i", "í", "i", "î", "i", "ï", "i",
	"ñ", "n", "ò", "o", "ó", "o", "ô", "o", "õ", "o", "ö", "o", "ø", "o", "œ", "oe",
	"ù", "u", "ú", "u", "û", "u", "ü", "u", "ý", "y", "ÿ", "y", "ß", "ss", "&", "-and-",
)

// deriveSubdomain turns an institution name into a host label: lower case,
// accents folded, every other run of characters one hyphen, at most
// MaxSubdomainLen characters. The result still needs subdomainProblem.
func deriveSubdomain(name string) string {
	s := foldAccents.Replace(strings.ToLower(name))
	var b strings.Builder
	hyphen := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen && b.Len() > 0 {
			b.WriteByte('-')
			hyphen = true
		}
	}
	out := b.String()
	if len(out) > MaxSubdomainLen {
		out = out[:MaxSubdomainLen]
	}
	return strings.Trim(out, "-")
}

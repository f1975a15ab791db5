package site

import (
	"errors"
	"net/mail"
	"strings"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard/bank"
)

// Signup limits (the tenant rules are the tenant service's).
const (
	MinSignupPasswordLen = bank.MinPolicyPasswordLen
)

// signupRequest is the body of POST /api/public/signup.
type signupRequest struct {
	Name      string `json:"name"`
	Country   string `json:"country"`
	Email     string `json:"email"`
	Password  string `json:"password"`
	Subdomain string `json:"subdomain"`
	// FromDemo is the host of the demo the visitor came from (the demo
	// page passes it on), for the demo-to-signup conversion figures.
	FromDemo string `json:"from_demo"`
}

// checkSignup validates a signup: the tenant's name, country and subdomain
// by the tenant service's rules (into create, normalised), the e-mail and
// password by signup's own. The subdomain is derived from the name when
// none was given. It returns a *tenants.ValidationError naming every
// problem (the host as "host"; errorFor calls it "subdomain"), or nil.
func (s *Site) checkSignup(req *signupRequest, create *tenants.CreateRequest) error {
	fields := map[string]string{}
	derived := strings.TrimSpace(req.Subdomain) == ""
	if derived {
		create.Host = deriveSubdomain(strings.TrimSpace(req.Name))
	}
	var verr *tenants.ValidationError
	if err := s.tenants.Check(create); errors.As(err, &verr) {
		fields = verr.Fields
	}
	if msg, bad := fields["host"]; bad && derived {
		if _, badName := fields["name"]; badName {
			delete(fields, "host") // the name's own problem says it all
		} else {
			fields["host"] = "could not be derived from the name (" + msg + "); choose one"
		}
	}
	req.Email = bank.NormalizeEmail(req.Email)
	if msg := emailProblem(req.Email); msg != "" {
		fields["email"] = msg
	}
	if msg := passwordProblem(req.Password, req.Email); msg != "" {
		fields["password"] = msg
	}
	req.FromDemo = strings.TrimSpace(req.FromDemo)
	if req.FromDemo != "" && !isDemoHost(req.FromDemo) {
		fields["from_demo"] = "must be the host of a demo (demo-…)"
	}
	if len(fields) == 0 {
		return nil
	}
	return &tenants.ValidationError{Fields: fields}
}

// isDemoHost reports whether h has the shape of a generated demo host.
func isDemoHost(h string) bool {
	rest, ok := strings.CutPrefix(h, tenants.DemoHostPrefix)
	return ok && len(rest) == 10 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz234567") == ""
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
// tenants.MaxHostLen characters. The result still needs the host rule.
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
	if len(out) > tenants.MaxHostLen {
		out = out[:tenants.MaxHostLen]
	}
	return strings.Trim(out, "-")
}

package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// claimNames are the claims tenantgate reads. A key that matches one only
// case-insensitively is refused: a lenient decoder would read it as that
// claim while another reader of the same token would not.
var claimNames = []string{"tenant_id", "user_id", "role", "a", "iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// timeClaims must be JSON numbers (a lenient decoder also took "123").
var timeClaims = map[string]bool{"exp": true, "nbf": true, "iat": true}

// checkClaimsStrict refuses a token payload whose claims a lenient decoder
// reads differently from a strict one: a claim given twice (the last one
// would win), a claim name in another case, a time claim that is not a
// number. It runs on signed tokens only, so it costs nothing for forgeries.
func checkClaimsStrict(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("malformed token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	// jsontext refuses duplicate names and invalid UTF-8 by default.
	dec := jsontext.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return errors.New("claims must be a JSON object")
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return fmt.Errorf("claims: %w", err)
		}
		key := name.String()
		for _, c := range claimNames {
			if key != c && strings.EqualFold(key, c) {
				return fmt.Errorf("claim %q is not %q", key, c)
			}
		}
		if timeClaims[key] && dec.PeekKind() != '0' {
			return fmt.Errorf("claim %q must be a number", key)
		}
		if err := dec.SkipValue(); err != nil {
			return fmt.Errorf("claims: %w", err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	return nil
}

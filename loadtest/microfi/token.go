package microfi

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintToken signs an HS256 token with tenantgate's claims: tenant_id
// (omitted for platform_admin), user_id, role, iat and exp.
func MintToken(secret []byte, tenantID, userID int64, role string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"user_id": userID,
		"role":    role,
		"iat":     now.Unix(),
		"exp":     now.Add(ttl).Unix(),
	}
	if role != "platform_admin" {
		claims["tenant_id"] = tenantID
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", role, err)
	}
	return s, nil
}

package bank

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The password policy: one rule for every password the platform accepts
// (signup, new users, the admin API's first administrator, changes and
// resets), so the same password gets the same answer at every door.
// Existing hashes keep working; the rule applies when a password is set.

// MinPolicyPasswordLen is the policy's minimum length in characters.
const MinPolicyPasswordLen = 10

// Policy messages (the "password" field's text in a 400).
const (
	PasswordRequired   = "is required"
	PasswordTooShort   = "must be at least 10 characters"
	PasswordTooLong    = "must be at most 256 bytes"
	PasswordNeedsMix   = "must contain at least one letter and one digit"
	PasswordTooCommon  = "is too common or too simple"
	PasswordHasEmail   = "must not contain your e-mail address"
	minDistinctPwChars = 5
)

// commonPasswords are refused outright: the first guesses of any attacker
// that the length and mix rules would let through.
var commonPasswords = map[string]bool{
	"password1": true, "password12": true, "password123": true, "password1234": true,
	"1234567890": true, "0123456789": true, "12345678910": true, "qwerty1234": true,
	"qwertyuiop1": true, "1q2w3e4r5t": true, "abc1234567": true, "abcd123456": true,
	"iloveyou12": true, "welcome123": true, "letmein123": true, "admin12345": true,
	"changeme123": true, "microfi123": true, "passw0rd123": true, "p@ssw0rd123": true,
	"password2024": true, "password2025": true, "password2026": true, "qwerty123456": true,
	"1qaz2wsx3edc": true, "zaq12wsxcde3": true, "football123": true, "monkey12345": true,
}

// PasswordProblem checks a new password against the policy: long enough,
// letters and digits, not a well-known password, not a repeat of few
// characters, not containing the e-mail address (already normalised, or
// ""). It returns "" for a good password, else the field message.
func PasswordProblem(pw, email string) string {
	switch {
	case pw == "":
		return PasswordRequired
	case utf8.RuneCountInString(pw) < MinPolicyPasswordLen:
		return PasswordTooShort
	case len(pw) > MaxPasswordLen:
		return PasswordTooLong
	}
	var letter, digit bool
	distinct := map[rune]bool{}
	for _, r := range pw {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
		distinct[r] = true
	}
	lower := strings.ToLower(pw)
	switch {
	case !letter || !digit:
		return PasswordNeedsMix
	case commonPasswords[lower] || len(distinct) < minDistinctPwChars:
		return PasswordTooCommon
	case email != "" && strings.Contains(lower, email):
		return PasswordHasEmail
	}
	return ""
}

// Package auth is the auth service's domain: input rules for sign-up
// (email, handle, password), password hashing (argon2id), single-use
// secrets, and the AuthService Connect handler that starts the registration
// workflow.
package auth

import (
	_ "embed"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// FieldError is a validation failure of one request field; handlers turn it
// into `invalid_argument` with the field named.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NormalizeEmail trims and lowercases an address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateEmail checks a normalized address: a single plain address (no
// display name), at most 254 characters, with a dotted domain.
func ValidateEmail(email string) error {
	if email == "" {
		return fieldErr("email", "is required")
	}
	if len(email) > 254 {
		return fieldErr("email", "is longer than 254 characters")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return fieldErr("email", "is not a valid address")
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return fieldErr("email", "is not a valid address")
	}
	return nil
}

// reservedHandles cannot be registered (routes, roles, impersonation bait).
var reservedHandles = map[string]bool{}

func init() {
	for _, h := range strings.Fields(`admin administrator root system support help ejazz staff moderator mod
		api www mail email security abuse postmaster hostmaster webmaster noreply no_reply official
		null undefined anonymous me self settings login logout signin signup register verify
		explore search home notifications messages feed trending about privacy terms status`) {
		reservedHandles[h] = true
	}
}

// ValidateHandle checks the handle rules: 3–30 characters of ASCII letters,
// digits and underscore, not reserved (case-insensitively).
func ValidateHandle(handle string) error {
	n := len(handle)
	if n == 0 {
		return fieldErr("handle", "is required")
	}
	if n < 3 || n > 30 {
		return fieldErr("handle", "must be 3 to 30 characters")
	}
	for _, r := range handle {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fieldErr("handle", "may contain only letters, digits and underscores")
		}
	}
	if reservedHandles[strings.ToLower(handle)] {
		return fieldErr("handle", "is reserved")
	}
	return nil
}

//go:embed common_passwords.txt
var commonPasswordList string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Fields(commonPasswordList) {
		m[strings.ToLower(p)] = true
	}
	return m
}()

// MinPasswordLength is the password policy's minimum, in characters.
const MinPasswordLength = 10

// ValidatePassword checks the policy: at least 10 characters (Unicode), at
// most 256 bytes, not a commonly used password, and not the handle or the
// email's local part.
func ValidatePassword(password, handle, email string) error {
	if password == "" {
		return fieldErr("password", "is required")
	}
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fieldErr("password", "must be at least %d characters", MinPasswordLength)
	}
	if len(password) > 256 {
		return fieldErr("password", "must be at most 256 bytes")
	}
	lower := strings.ToLower(password)
	local, _, _ := strings.Cut(email, "@")
	if commonPasswords[lower] || (handle != "" && lower == strings.ToLower(handle)) || (local != "" && lower == local) {
		return fieldErr("password", "is too common or too easy to guess")
	}
	return nil
}

// ValidateDisplayName checks a display name: at most 50 characters, no control characters.
func ValidateDisplayName(name string) error {
	if utf8.RuneCountInString(name) > 50 {
		return fieldErr("display_name", "must be at most 50 characters")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fieldErr("display_name", "must not contain control characters")
		}
	}
	return nil
}

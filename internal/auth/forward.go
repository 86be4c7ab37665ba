package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// IdentityHeader carries the caller from the gateway to the services:
//
//	Ejazz-Identity: v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "v1."+payload))>
//
// The gateway verifies the client's bearer token once and signs the caller
// with a key shared with the services (IdentitySigner); a service checks the
// signature and the expiry (IdentityVerifier) instead of the token. Clients
// can never set it: the gateway refuses requests that carry it, and a
// service refuses a header it cannot verify.
const IdentityHeader = "Ejazz-Identity"

// MinIdentityKeyLen is the shortest accepted identity key, in bytes.
const MinIdentityKeyLen = 32

// DefaultIdentityTTL is a signed identity's lifetime: long enough for clock
// skew between gateway and services, short enough that a header copied out
// of a log or a trace is useless almost at once.
const DefaultIdentityTTL = 60 * time.Second

// maxIdentityLen bounds a presented header before any work is done on it.
const maxIdentityLen = 4096

const identityVersion = "v1"

// ErrInvalidIdentity is every failure to verify an identity header: malformed,
// forged, signed with an unknown key, for another audience or expired. It is
// safe to show a client.
var ErrInvalidIdentity = errors.New("the " + IdentityHeader + " header is invalid or expired")

// identityClaims is the signed payload.
type identityClaims struct {
	Subject  string   `json:"sub"`
	Roles    []string `json:"roles,omitempty"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	Audience string   `json:"aud,omitempty"`
}

// IdentitySigner signs callers into IdentityHeader values (the gateway).
type IdentitySigner struct {
	// Keys are the shared HMAC keys (each at least MinIdentityKeyLen bytes).
	// The first signs; rotate by prepending a new key on the services
	// (verifiers) first, then on the gateway, then dropping the old one.
	Keys [][]byte
	// TTL of a signed identity; 0 means DefaultIdentityTTL.
	TTL time.Duration
	// Audience, when set, is put in the header; verifiers with an Audience
	// accept only headers naming it (e.g. one cluster's name).
	Audience string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Validate reports a key list unfit for signing or verifying.
func (s *IdentitySigner) Validate() error { return validateKeys(s.Keys) }

// Sign returns the header value for c. It fails only when the signer has no
// valid key (see Validate).
func (s *IdentitySigner) Sign(c Caller) (string, error) {
	if err := validateKeys(s.Keys); err != nil {
		return "", err
	}
	now := clockNow(s.Now)
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultIdentityTTL
	}
	payload, err := json.Marshal(identityClaims{
		Subject: c.UserID, Roles: c.Roles, IssuedAt: now.Unix(), Expiry: now.Add(ttl).Unix(), Audience: s.Audience,
	})
	if err != nil {
		return "", fmt.Errorf("encode identity: %w", err)
	}
	signed := identityVersion + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(identityMAC(s.Keys[0], signed)), nil
}

// IdentityVerifier checks IdentityHeader values (the services).
type IdentityVerifier struct {
	// Keys accepted (any of them verifies), the same list as the signer's.
	Keys [][]byte
	// Audience, when set, must be the header's audience.
	Audience string
	// Leeway tolerated on expiry and issue time for clock skew; 0 means 5 s.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Validate reports a key list unfit for verifying.
func (v *IdentityVerifier) Validate() error { return validateKeys(v.Keys) }

// Verify returns the caller of a valid header value or ErrInvalidIdentity.
// Signatures are compared in constant time, against every accepted key.
func (v *IdentityVerifier) Verify(h string) (Caller, error) {
	if len(h) > maxIdentityLen || validateKeys(v.Keys) != nil {
		return Caller{}, ErrInvalidIdentity
	}
	version, rest, ok := strings.Cut(h, ".")
	if !ok || version != identityVersion {
		return Caller{}, ErrInvalidIdentity
	}
	payloadB64, sigB64, ok := strings.Cut(rest, ".")
	if !ok {
		return Caller{}, ErrInvalidIdentity
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != sha256.Size {
		return Caller{}, ErrInvalidIdentity
	}
	signed := h[:len(version)+1+len(payloadB64)]
	valid := false
	for _, k := range v.Keys {
		// Every key is tried (no early exit), so timing does not tell which matched.
		if hmac.Equal(identityMAC(k, signed), sig) {
			valid = true
		}
	}
	if !valid {
		return Caller{}, ErrInvalidIdentity
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadB64)
	if err != nil {
		return Caller{}, ErrInvalidIdentity
	}
	var c identityClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Caller{}, ErrInvalidIdentity
	}
	leeway := v.Leeway
	if leeway <= 0 {
		leeway = 5 * time.Second
	}
	now := clockNow(v.Now)
	switch {
	case c.Subject == "",
		c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(leeway)),
		time.Unix(c.IssuedAt, 0).After(now.Add(leeway)),
		v.Audience != "" && c.Audience != v.Audience:
		return Caller{}, ErrInvalidIdentity
	}
	return Caller{UserID: c.Subject, Roles: c.Roles}, nil
}

// ParseIdentityKeys parses a configured key list: comma-separated keys, each
// hex (64+ digits) or base64/base64url (of 32+ bytes). The first key signs.
func ParseIdentityKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, err := hex.DecodeString(f)
		if err != nil {
			k, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(f), "="))
		}
		if err != nil {
			return nil, fmt.Errorf("identity key %d: neither hex nor base64", i+1)
		}
		keys = append(keys, k)
	}
	if err := validateKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

func validateKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("no identity key")
	}
	for i, k := range keys {
		if len(k) < MinIdentityKeyLen {
			return fmt.Errorf("identity key %d is %d bytes, want at least %d", i+1, len(k), MinIdentityKeyLen)
		}
	}
	return nil
}

func identityMAC(key []byte, signed string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

func clockNow(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

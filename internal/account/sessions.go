package account

import (
	"context"
	"errors"
	"time"
)

// RefreshToken is one refresh token of a session family. Only its hash is
// stored. Rotation replaces it by a new token of the same family; presenting
// a rotated (used) token again is reuse and revokes the whole family.
type RefreshToken struct {
	// Hash is the SHA-256 hex of the secret; unique.
	Hash      string
	FamilyID  string
	AccountID string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SigningKey is a private key the auth service signs access tokens with.
// Keys rotate: a new key signs, older ones are kept (for verification only)
// until every token they signed has expired.
type SigningKey struct {
	// ID is the JWK "kid".
	ID string
	// Algorithm is the JWS algorithm, e.g. "ES256".
	Algorithm string
	// PrivateKeyPEM is the PKCS#8 private key. Never logged.
	PrivateKeyPEM string
	CreatedAt     time.Time
	// NotAfter is when the key stops signing; verification continues until
	// NotAfter plus the access-token lifetime.
	NotAfter time.Time
}

// ErrReused reports a refresh token presented after it was rotated: the
// family has been revoked.
var ErrReused = errors.New("refresh token reused")

// ErrRevoked reports a refresh token whose family was revoked (sign-out,
// reuse, password reset).
var ErrRevoked = errors.New("refresh token revoked")

// Sessions is the session part of the account port: refresh-token families,
// signing keys and sign-in throttling. Every adapter passes
// storetest.SessionStore.
type Sessions interface {
	// CreateRefreshToken starts a family (or adds the first token of one).
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken atomically marks the token with oldHash as used and
	// stores next (same family, same account; the caller fills FamilyID and
	// AccountID from the returned token, so pass next with only Hash,
	// IssuedAt and ExpiresAt set — the store copies family and account). It
	// returns the old token. Errors: storage.ErrNotFound (never issued),
	// ErrExpired (past ExpiresAt at now), ErrRevoked (family revoked),
	// ErrReused (already rotated: the family is revoked by this call). Of two
	// concurrent rotations of one token exactly one succeeds; the other gets
	// ErrReused.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (RefreshToken, error)
	// RevokeFamily revokes every token of the family containing hash (sign-out);
	// revoking an unknown or already revoked token succeeds.
	RevokeFamily(ctx context.Context, hash string) error
	// RevokeAccountSessions revokes every family of the account (password reset).
	RevokeAccountSessions(ctx context.Context, accountID string) error
	// PutSigningKey stores a key; storing the same ID again is a no-op.
	PutSigningKey(ctx context.Context, k SigningKey) error
	// SigningKeys returns the keys with NotAfter after since, newest CreatedAt first.
	SigningKeys(ctx context.Context, since time.Time) ([]SigningKey, error)
	// RecordSignInFailure records a failed sign-in at at and returns how many
	// failures the account has since at minus window (this one included).
	RecordSignInFailure(ctx context.Context, accountID string, at time.Time, window time.Duration) (int, error)
	// ClearSignInFailures forgets the account's failures (after a success).
	ClearSignInFailures(ctx context.Context, accountID string) error
}

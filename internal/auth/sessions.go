package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// RefreshTTL is a refresh token's lifetime; each rotation issues a new token
// with a new lifetime.
const RefreshTTL = 30 * 24 * time.Hour

// MaxRefreshTokenLen bounds a presented refresh token before any work is done
// on it (ours are 43 characters).
const MaxRefreshTokenLen = 128

// Refresh-token failures, each safe to show a client. Every other error of
// RotateSession is a storage failure.
var (
	// ErrSessionReused: the token was already rotated; this call revoked its
	// whole family (a stolen token and its legitimate successor both die).
	ErrSessionReused = errors.New("refresh token already used; the session was revoked, sign in again")
	// ErrSessionInvalid: the token is unknown, expired or its family revoked.
	ErrSessionInvalid = errors.New("refresh token is invalid or expired; sign in again")
)

// StartSession starts a refresh-token family (a session) for the account and
// returns its first token and the stored record (only the token's hash is
// stored). AuthService.SignIn and the OpenID Provider's code exchange start
// sessions this way.
func StartSession(ctx context.Context, s account.Sessions, accountID string, now time.Time) (string, account.RefreshToken, error) {
	secret, err := NewSecret()
	if err != nil {
		return "", account.RefreshToken{}, fmt.Errorf("new refresh token: %w", err)
	}
	t := account.RefreshToken{
		Hash: HashSecret(secret), FamilyID: uuid.NewString(), AccountID: accountID,
		IssuedAt: now, ExpiresAt: now.Add(RefreshTTL),
	}
	if err := s.CreateRefreshToken(ctx, t); err != nil {
		return "", account.RefreshToken{}, fmt.Errorf("create session: %w", err)
	}
	return secret, t, nil
}

// RotateSession spends token and returns the next token of its family and
// the record of the next token (its FamilyID and AccountID filled in). The
// rotation is atomic in the store: of two concurrent rotations of one token
// exactly one succeeds. Presenting a spent token is ErrSessionReused and
// revokes the family; unknown, expired and revoked tokens are
// ErrSessionInvalid. AuthService.RefreshToken and the OpenID Provider's
// refresh_token grant rotate this way.
func RotateSession(ctx context.Context, s account.Sessions, token string, now time.Time) (string, account.RefreshToken, error) {
	if token == "" || len(token) > MaxRefreshTokenLen {
		return "", account.RefreshToken{}, ErrSessionInvalid
	}
	secret, err := NewSecret()
	if err != nil {
		return "", account.RefreshToken{}, fmt.Errorf("new refresh token: %w", err)
	}
	next := account.RefreshToken{Hash: HashSecret(secret), IssuedAt: now, ExpiresAt: now.Add(RefreshTTL)}
	old, err := s.RotateRefreshToken(ctx, HashSecret(token), next, now)
	switch {
	case errors.Is(err, account.ErrReused):
		return "", account.RefreshToken{}, ErrSessionReused
	case errors.Is(err, account.ErrRevoked), errors.Is(err, account.ErrExpired), errors.Is(err, storage.ErrNotFound):
		return "", account.RefreshToken{}, ErrSessionInvalid
	case err != nil:
		return "", account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	next.FamilyID, next.AccountID = old.FamilyID, old.AccountID
	return secret, next, nil
}

// EndSession revokes the family of token (sign-out). Unknown and already
// revoked tokens succeed: ending a session twice is not an error.
func EndSession(ctx context.Context, s account.Sessions, token string) error {
	if token == "" || len(token) > MaxRefreshTokenLen {
		return nil
	}
	if err := s.RevokeFamily(ctx, HashSecret(token)); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

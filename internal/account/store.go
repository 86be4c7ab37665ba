// Package account owns accounts and credentials: email, handle, password
// hash, verification state and single-use tokens (email verification,
// password reset) — the auth service's data. The Store port is implemented by
// the sqlite (embedded) and postgres (scale) adapters.
package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "accounts"

// Account is a user's credentials.
type Account struct {
	// ID is the user id (shared with the profile and the graph node).
	ID string
	// Email is stored normalized (trimmed, lowercase); unique.
	Email string
	// Handle keeps the user's casing; unique case-insensitively.
	Handle string
	// PasswordHash is an argon2id PHC string; never logged.
	PasswordHash string
	CreatedAt    time.Time
	// VerifiedAt is zero until the email is verified.
	VerifiedAt time.Time
}

// Verified reports whether the email was verified.
func (a Account) Verified() bool { return !a.VerifiedAt.IsZero() }

// TokenKind names what a single-use token is for.
type TokenKind string

// Token kinds.
const (
	TokenVerifyEmail   TokenKind = "verify_email"
	TokenResetPassword TokenKind = "reset_password"
)

// Token is a single-use secret mailed to a user. Only its hash is stored.
type Token struct {
	// Hash is the SHA-256 of the secret, hex encoded; unique.
	Hash      string
	Kind      TokenKind
	AccountID string
	ExpiresAt time.Time
}

// ErrExpired is returned when consuming a token past its expiry.
var ErrExpired = errors.New("expired")

// TakenError reports a unique field already used by another account. It
// wraps storage.ErrAlreadyExists; Field is "email" or "handle".
type TakenError struct{ Field string }

func (e *TakenError) Error() string { return e.Field + " is already taken" }

// Unwrap makes errors.Is(err, storage.ErrAlreadyExists) hold.
func (e *TakenError) Unwrap() error { return storage.ErrAlreadyExists }

// Store is the account port. Every adapter passes storetest.AccountStore.
type Store interface {
	storage.Store
	Sessions
	RoleStore
	TOTPStore
	OIDCStore
	// Create inserts an account. Email must be normalized by the caller.
	// When email or handle (case-insensitively) belongs to another account it
	// returns a *TakenError naming the field (email checked first). Creating
	// an account whose ID already exists with the same email and handle is a
	// no-op (retries are safe); with different values it is a *TakenError too.
	Create(ctx context.Context, a Account) error
	// Get returns the account or storage.ErrNotFound.
	Get(ctx context.Context, id string) (Account, error)
	// GetByEmail looks up by normalized email; storage.ErrNotFound when none.
	GetByEmail(ctx context.Context, email string) (Account, error)
	// GetByHandle looks up case-insensitively; storage.ErrNotFound when none.
	GetByHandle(ctx context.Context, handle string) (Account, error)
	// MarkVerified sets VerifiedAt when not already set (idempotent: the first
	// time wins); storage.ErrNotFound when the account does not exist.
	MarkVerified(ctx context.Context, id string, at time.Time) error
	// SetPasswordHash replaces the password hash; storage.ErrNotFound when missing.
	SetPasswordHash(ctx context.Context, id, hash string) error
	// Delete removes the account and its tokens; deleting a missing account succeeds.
	Delete(ctx context.Context, id string) error
	// PutToken stores a token; storing the same hash again is a no-op.
	PutToken(ctx context.Context, t Token) error
	// ConsumeToken atomically deletes and returns the token of that kind and
	// hash. It returns storage.ErrNotFound when there is none (never issued,
	// or already used) and ErrExpired (the token is then deleted too) when
	// now is past ExpiresAt. Two concurrent calls never both succeed.
	ConsumeToken(ctx context.Context, kind TokenKind, hash string, now time.Time) (Token, error)
	// DeleteTokens removes every token of that kind for the account.
	DeleteTokens(ctx context.Context, accountID string, kind TokenKind) error
	// ScanAccounts lists every account in ID order, at most limit (> 0) a
	// page: cursor "" starts, the returned cursor is "" after the last page
	// (exports, the analytics backfill). Accounts created during a scan
	// may or may not be listed; none is listed twice.
	ScanAccounts(ctx context.Context, cursor string, limit int) ([]Account, string, error)
}

// Taken builds a *TakenError for field.
func Taken(field string) error { return &TakenError{Field: field} }

// IsTaken returns the taken field of err, if err is a *TakenError.
func IsTaken(err error) (string, bool) {
	var te *TakenError
	if errors.As(err, &te) {
		return te.Field, true
	}
	return "", false
}

// Clash is an existing account that shares the id, email or handle of an
// account being created (adapters read these after an insert did nothing).
type Clash struct {
	ID, Email, Handle     string
	SameEmail, SameHandle bool // case-insensitively equal to the new account's
}

// ExplainCreateConflict decides what Create returns from the clashing rows:
// another account's email (checked first) or handle is a *TakenError; the
// same id with the same email and handle is a retry (nil); with other values
// a *TakenError naming the differing field. done is false when no row clashes
// any more (it was deleted meanwhile): the adapter retries the insert.
func ExplainCreateConflict(a Account, clashes []Clash) (done bool, err error) {
	var emailTaken, handleTaken bool
	var self *Clash
	for i, c := range clashes {
		if c.ID == a.ID {
			self = &clashes[i]
			continue
		}
		emailTaken = emailTaken || c.SameEmail
		handleTaken = handleTaken || c.SameHandle
	}
	switch {
	case emailTaken:
		return true, fmt.Errorf("account %s: %w", a.ID, Taken("email"))
	case handleTaken:
		return true, fmt.Errorf("account %s: %w", a.ID, Taken("handle"))
	case self == nil:
		return false, nil
	case self.Email != a.Email:
		return true, fmt.Errorf("account %s: %w", a.ID, Taken("email"))
	case self.Handle != a.Handle:
		return true, fmt.Errorf("account %s: %w", a.ID, Taken("handle"))
	}
	return true, nil // a retry of the same creation
}

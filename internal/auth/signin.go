package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// Sign-in throttling, shared by AuthService.SignIn and the OpenID
// Provider's hosted sign-in page.
const (
	// MaxSignInFailures failed attempts within SignInFailureWindow throttle
	// an account.
	MaxSignInFailures   = 5
	SignInFailureWindow = 15 * time.Minute
)

// Sign-in outcomes, each safe to show a client. Any other error of SignIns
// is a storage (or stored-data) failure to log and hide.
var (
	// ErrBadCredentials: unknown identifier or wrong password (the same
	// answer, so it does not tell which accounts exist).
	ErrBadCredentials = errors.New("invalid identifier or password")
	// ErrUnverified: the credentials are right but the email is not verified.
	ErrUnverified = errors.New("verify your email address before signing in")
	// ErrTOTPRequired: the account has TOTP on and no code was given.
	ErrTOTPRequired = errors.New("a TOTP code is required")
	// ErrTOTPInvalid: the code is wrong, outside its window, replayed, or a
	// used recovery code.
	ErrTOTPInvalid = errors.New("the TOTP code is wrong, expired or already used")
)

// ThrottledError refuses an attempt on an account with more than
// MaxSignInFailures failures in SignInFailureWindow.
type ThrottledError struct {
	// RetryAfter is when the caller may try again: the window slides, so the
	// account frees itself once the guessing has stopped this long.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins; retry in %d minutes", int(e.RetryAfter.Minutes()))
}

// dummyHash is verified against when the account does not exist, so an
// unknown user costs the same time as a wrong password. (HashPassword fails
// only when the system's randomness does.)
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not the password of anyone", DefaultArgon2)
	return h
})

// SignIns checks sign-in attempts against the account store: identifier and
// password, throttling and the TOTP second factor. AuthService.SignIn runs
// all of it in one call (SignIn); the hosted sign-in page runs the password
// step and the code step as two forms (CheckPassword, then Attempt and
// SecondFactor), with the same rules.
//
// Every attempt is recorded as a failure until one fully succeeds
// (Succeeded), so a missing or wrong TOTP code counts like a wrong password
// and a throttled account stays throttled while someone keeps guessing.
type SignIns struct {
	Accounts account.Store
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (s *SignIns) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// SignIn checks identifier (email or handle), password and, when the account
// has TOTP on, code; on success it clears the failures and returns the
// account. Errors: ErrBadCredentials, *ThrottledError, ErrTOTPRequired,
// ErrTOTPInvalid, ErrUnverified (checked last: only a full success tells).
func (s *SignIns) SignIn(ctx context.Context, identifier, password, code string) (account.Account, error) {
	acc, err := s.CheckPassword(ctx, identifier, password)
	if err != nil {
		return account.Account{}, err
	}
	if err := s.SecondFactor(ctx, acc.ID, code); err != nil {
		return account.Account{}, err
	}
	if err := s.Succeeded(ctx, acc.ID); err != nil {
		return account.Account{}, err
	}
	if !acc.Verified() {
		return account.Account{}, ErrUnverified
	}
	return acc, nil
}

// CheckPassword finds the account by identifier (by email when it has an @,
// else by handle), records the attempt (see Attempt) and checks the
// password. An unknown identifier still costs one argon2id run. Errors:
// ErrBadCredentials, *ThrottledError (the password is then not checked).
func (s *SignIns) CheckPassword(ctx context.Context, identifier, password string) (account.Account, error) {
	identifier = strings.TrimSpace(identifier)
	if identifier == "" || password == "" {
		return account.Account{}, ErrBadCredentials
	}
	var (
		acc account.Account
		err error
	)
	if strings.Contains(identifier, "@") {
		acc, err = s.Accounts.GetByEmail(ctx, NormalizeEmail(identifier))
	} else {
		acc, err = s.Accounts.GetByHandle(ctx, identifier)
	}
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = VerifyPassword(password, dummyHash())
		return account.Account{}, ErrBadCredentials
	}
	if err != nil {
		return account.Account{}, fmt.Errorf("sign-in lookup: %w", err)
	}
	if err := s.Attempt(ctx, acc.ID); err != nil {
		return account.Account{}, err
	}
	ok, err := VerifyPassword(password, acc.PasswordHash)
	if err != nil {
		return account.Account{}, fmt.Errorf("account %s: verify password: %w", acc.ID, err)
	}
	if !ok {
		return account.Account{}, ErrBadCredentials
	}
	return acc, nil
}

// Attempt records a sign-in attempt on the account as a failure (cleared by
// Succeeded) and returns a *ThrottledError when the account has more than
// MaxSignInFailures in SignInFailureWindow, this one included.
func (s *SignIns) Attempt(ctx context.Context, accountID string) error {
	failures, err := s.Accounts.RecordSignInFailure(ctx, accountID, s.now(), SignInFailureWindow)
	if err != nil {
		return fmt.Errorf("account %s: record sign-in attempt: %w", accountID, err)
	}
	if failures > MaxSignInFailures {
		return &ThrottledError{RetryAfter: SignInFailureWindow}
	}
	return nil
}

// TOTPEnabled reports whether the account has a confirmed TOTP enrollment
// (a pending one does not count).
func (s *SignIns) TOTPEnabled(ctx context.Context, accountID string) (bool, error) {
	t, err := s.Accounts.GetTOTP(ctx, accountID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("account %s: get totp: %w", accountID, err)
	}
	return t.Confirmed, nil
}

// SecondFactor is the TOTP step, after the password was verified: nil when
// the account has no confirmed TOTP or code is accepted (and spent: a TOTP
// step or a recovery code is used once). Errors: ErrTOTPRequired (code is
// empty), ErrTOTPInvalid.
func (s *SignIns) SecondFactor(ctx context.Context, accountID, code string) error {
	t, err := s.Accounts.GetTOTP(ctx, accountID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("account %s: get totp: %w", accountID, err)
	case !t.Confirmed:
		return nil
	}
	if NormalizeCode(code) == "" {
		return ErrTOTPRequired
	}
	ok, err := UseSecondFactor(ctx, s.Accounts, t, code, s.now())
	if err != nil {
		return fmt.Errorf("account %s: check totp code: %w", accountID, err)
	}
	if !ok {
		return ErrTOTPInvalid
	}
	return nil
}

// Succeeded clears the account's recorded failures after a full success.
func (s *SignIns) Succeeded(ctx context.Context, accountID string) error {
	if err := s.Accounts.ClearSignInFailures(ctx, accountID); err != nil {
		return fmt.Errorf("account %s: clear sign-in failures: %w", accountID, err)
	}
	return nil
}

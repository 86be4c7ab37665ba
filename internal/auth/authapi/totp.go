package authapi

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storage"
)

// TOTP policy (RFC 6238 as authenticator apps expect it).
const (
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer = "Ejazz"
	// totpPeriod is the time step in seconds.
	totpPeriod = 30
	// RecoveryCodes is how many recovery codes ConfirmTotp returns.
	RecoveryCodes = 10
	// recoveryCodeLen characters of recoveryAlphabet: 31^10 ≈ 2^49.5.
	recoveryCodeLen = 10
	// recoveryAlphabet has no look-alikes (0/o, 1/l/i).
	recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"
	// maxCodeLen bounds a code before any work is done on it.
	maxCodeLen = 64
)

// totpStepOpts checks a code against exactly one step (Skew 0): matchTOTP
// walks the ±1 steps itself to learn which one matched.
var totpStepOpts = totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchTOTP returns the step, within one step of now either way (clock
// skew), whose code is code. It is equivalent to totp.ValidateCustom with
// Skew 1 but also tells which step matched, for replay protection.
func matchTOTP(secret, code string, now time.Time) (step int64, ok bool, err error) {
	n := totpStep(now)
	for _, step := range []int64{n - 1, n, n + 1} {
		ok, err := totp.ValidateCustom(code, secret, time.Unix(step*totpPeriod, 0), totpStepOpts)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return step, true, nil
		}
	}
	return 0, false, nil
}

// normalizeCode drops spaces and dashes and lowercases, so "123 456" and
// "ABCDE-FGHJK" are accepted as typed.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
}

// isTOTPCode reports whether code looks like a 6-digit TOTP code (recovery
// codes are 10 characters, so they never do).
func isTOTPCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// newRecoveryCodes returns n fresh recovery codes shown as "xxxxx-xxxxx".
func newRecoveryCodes(n int) ([]string, error) {
	codes := make([]string, n)
	size := big.NewInt(int64(len(recoveryAlphabet)))
	for i := range codes {
		var b strings.Builder
		for j := range recoveryCodeLen {
			if j == recoveryCodeLen/2 {
				b.WriteByte('-')
			}
			k, err := rand.Int(rand.Reader, size)
			if err != nil {
				return nil, err
			}
			b.WriteByte(recoveryAlphabet[k.Int64()])
		}
		codes[i] = b.String()
	}
	return codes, nil
}

// recoveryHash is the stored hash of a recovery code as typed.
func recoveryHash(code string) string { return auth.HashSecret(normalizeCode(code)) }

// useSecondFactor checks code (already normalized) against the confirmed
// enrollment t and spends it: a TOTP code of a step after the last accepted
// one (within ±1 step of now), or an unused recovery code. ok is false for a
// wrong, replayed or used code; err is a storage failure.
func (s *Service) useSecondFactor(ctx context.Context, t account.TOTP, code string) (ok bool, err error) {
	if code == "" || len(code) > maxCodeLen {
		return false, nil
	}
	if isTOTPCode(code) {
		step, ok, err := matchTOTP(t.Secret, code, timeNow())
		if err != nil || !ok {
			return false, err
		}
		err = s.Accounts.UseTOTPStep(ctx, t.AccountID, step)
		switch {
		case errors.Is(err, account.ErrStepUsed), errors.Is(err, storage.ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	}
	err = s.Accounts.UseRecoveryCode(ctx, t.AccountID, auth.HashSecret(code))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// checkSignInTOTP is SignIn's second factor, run after the password was
// verified: nil when the account has no confirmed TOTP or code is accepted
// (and spent), else the Connect error to return. The attempt was already
// recorded as a sign-in failure, so a missing code counts towards throttling
// like a wrong one (every attempt counts until one fully succeeds); it caps
// online guessing of codes as it does passwords.
func (s *Service) checkSignInTOTP(ctx context.Context, accountID, code string) error {
	t, err := s.Accounts.GetTOTP(ctx, accountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return s.unavailable(ctx, "get totp", err)
	}
	if !t.Confirmed {
		return nil
	}
	code = normalizeCode(code)
	if code == "" {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("a TOTP code is required"))
	}
	ok, err := s.useSecondFactor(ctx, t, code)
	if err != nil {
		return s.unavailable(ctx, "check totp code", err)
	}
	if !ok {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("the TOTP code is wrong, expired or already used"))
	}
	return nil
}

// callerAccount returns the signed-in caller's account.
func (s *Service) callerAccount(ctx context.Context) (account.Account, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return account.Account{}, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	acc, err := s.Accounts.Get(ctx, c.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return account.Account{}, connect.NewError(connect.CodeUnauthenticated, errors.New("the account no longer exists"))
	}
	if err != nil {
		return account.Account{}, s.unavailable(ctx, "get account", err)
	}
	return acc, nil
}

var errTOTPOn = errors.New("TOTP is already on; disable it first")

// EnrollTotp creates (or replaces) the caller's pending TOTP secret and
// returns it with its otpauth:// URL (for a QR code). TOTP stays off until
// ConfirmTotp. Errors: unauthenticated, failed_precondition (TOTP already on).
func (s *Service) EnrollTotp(ctx context.Context, _ *connect.Request[authv1.EnrollTotpRequest]) (*connect.Response[authv1.EnrollTotpResponse], error) {
	acc, err := s.callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.Accounts.GetTOTP(ctx, acc.ID)
	switch {
	case err == nil && t.Confirmed:
		return nil, connect.NewError(connect.CodeFailedPrecondition, errTOTPOn)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return nil, s.unavailable(ctx, "get totp", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: TOTPIssuer, AccountName: acc.Handle, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, s.internal(ctx, "generate totp secret", err)
	}
	err = s.Accounts.PutPendingTOTP(ctx, acc.ID, key.Secret())
	switch {
	case errors.Is(err, storage.ErrAlreadyExists): // confirmed meanwhile
		return nil, connect.NewError(connect.CodeFailedPrecondition, errTOTPOn)
	case err != nil:
		return nil, s.unavailable(ctx, "put totp", err)
	}
	return connect.NewResponse(&authv1.EnrollTotpResponse{Secret: key.Secret(), OtpauthUrl: key.URL()}), nil
}

// ConfirmTotp switches TOTP on when code is a current code (±1 step) of the
// pending secret, and returns RecoveryCodes one-time recovery codes, shown
// only this once (only their hashes are stored). Errors: unauthenticated,
// invalid_argument (empty or malformed code), failed_precondition (nothing
// pending, or already on), permission_denied (wrong code).
func (s *Service) ConfirmTotp(ctx context.Context, req *connect.Request[authv1.ConfirmTotpRequest]) (*connect.Response[authv1.ConfirmTotpResponse], error) {
	acc, err := s.callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	code := normalizeCode(req.Msg.GetCode())
	if code == "" {
		return nil, invalid(&auth.FieldError{Field: "code", Reason: "is required"})
	}
	if !isTOTPCode(code) {
		return nil, invalid(&auth.FieldError{Field: "code", Reason: "must be the 6-digit code of the authenticator app"})
	}
	t, err := s.Accounts.GetTOTP(ctx, acc.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("no TOTP enrollment is pending; call EnrollTotp first"))
	case err != nil:
		return nil, s.unavailable(ctx, "get totp", err)
	case t.Confirmed:
		return nil, connect.NewError(connect.CodeFailedPrecondition, errTOTPOn)
	}
	step, ok, err := matchTOTP(t.Secret, code, timeNow())
	if err != nil {
		return nil, s.internal(ctx, "validate totp code", err)
	}
	if !ok {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("code is wrong or expired"))
	}
	codes, err := newRecoveryCodes(RecoveryCodes)
	if err != nil {
		return nil, s.internal(ctx, "new recovery codes", err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = recoveryHash(c)
	}
	err = s.Accounts.ConfirmTOTP(ctx, acc.ID, step, hashes)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errTOTPOn)
	case errors.Is(err, storage.ErrNotFound): // disabled meanwhile
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("no TOTP enrollment is pending; call EnrollTotp first"))
	case err != nil:
		return nil, s.unavailable(ctx, "confirm totp", err)
	}
	return connect.NewResponse(&authv1.ConfirmTotpResponse{RecoveryCodes: codes}), nil
}

// DisableTotp switches TOTP off (deleting the secret and the recovery codes)
// after checking a current, unused TOTP code or an unused recovery code.
// Errors: unauthenticated, invalid_argument (empty code), failed_precondition
// (TOTP is off; a pending enrollment does not count), permission_denied
// (wrong code).
func (s *Service) DisableTotp(ctx context.Context, req *connect.Request[authv1.DisableTotpRequest]) (*connect.Response[authv1.DisableTotpResponse], error) {
	acc, err := s.callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	code := normalizeCode(req.Msg.GetCode())
	if code == "" {
		return nil, invalid(&auth.FieldError{Field: "code", Reason: "is required"})
	}
	t, err := s.Accounts.GetTOTP(ctx, acc.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("TOTP is off"))
	case err != nil:
		return nil, s.unavailable(ctx, "get totp", err)
	case !t.Confirmed:
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("TOTP is off"))
	}
	ok, err := s.useSecondFactor(ctx, t, code)
	if err != nil {
		return nil, s.unavailable(ctx, "check totp code", err)
	}
	if !ok {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("code is wrong, expired or already used"))
	}
	if err := s.Accounts.DeleteTOTP(ctx, acc.ID); err != nil {
		return nil, s.unavailable(ctx, "delete totp", err)
	}
	return connect.NewResponse(&authv1.DisableTotpResponse{}), nil
}

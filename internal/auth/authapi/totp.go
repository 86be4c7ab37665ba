package authapi

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strings"

	"connectrpc.com/connect"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storage"
)

// TOTP policy (RFC 6238 as authenticator apps expect it; the checks are in
// package auth, shared with the hosted sign-in page).
const (
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer = "Ejazz"
	// RecoveryCodes is how many recovery codes ConfirmTotp returns.
	RecoveryCodes = 10
	// recoveryCodeLen characters of recoveryAlphabet: 31^10 ≈ 2^49.5.
	recoveryCodeLen = 10
	// recoveryAlphabet has no look-alikes (0/o, 1/l/i).
	recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"
)

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
		Issuer: TOTPIssuer, AccountName: acc.Handle, Period: auth.TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
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
	code := auth.NormalizeCode(req.Msg.GetCode())
	if code == "" {
		return nil, invalid(&auth.FieldError{Field: "code", Reason: "is required"})
	}
	if !auth.IsTOTPCode(code) {
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
	step, ok, err := auth.MatchTOTP(t.Secret, code, timeNow())
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
		hashes[i] = auth.RecoveryCodeHash(c)
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
	code := auth.NormalizeCode(req.Msg.GetCode())
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
	// Guessing codes is throttled like sign-in, on the same failure count:
	// a stolen access token must not become a way to brute-force the code.
	signIns := s.signIns()
	if err := signIns.Attempt(ctx, acc.ID); err != nil {
		return nil, s.signInError(ctx, err)
	}
	ok, err := auth.UseSecondFactor(ctx, s.Accounts, t, code, timeNow())
	if err != nil {
		return nil, s.unavailable(ctx, "check totp code", err)
	}
	if !ok {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("code is wrong, expired or already used"))
	}
	if err := signIns.Succeeded(ctx, acc.ID); err != nil {
		return nil, s.unavailable(ctx, "clear failures", err)
	}
	if err := s.Accounts.DeleteTOTP(ctx, acc.ID); err != nil {
		return nil, s.unavailable(ctx, "delete totp", err)
	}
	return connect.NewResponse(&authv1.DisableTotpResponse{}), nil
}

package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// TOTP parameters (RFC 6238 as authenticator apps expect them).
const (
	// TOTPPeriod is the time step in seconds.
	TOTPPeriod = 30
	// maxCodeLen bounds a code before any work is done on it.
	maxCodeLen = 64
)

// totpStepOpts checks a code against exactly one step (Skew 0): MatchTOTP
// walks the ±1 steps itself to learn which one matched.
var totpStepOpts = totp.ValidateOpts{Period: TOTPPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// MatchTOTP returns the step, within one step of now either way (clock
// skew), whose code is code. It is equivalent to totp.ValidateCustom with
// Skew 1 but also tells which step matched, for replay protection.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool, err error) {
	n := totpStep(now)
	for _, step := range []int64{n - 1, n, n + 1} {
		ok, err := totp.ValidateCustom(code, secret, time.Unix(step*TOTPPeriod, 0), totpStepOpts)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return step, true, nil
		}
	}
	return 0, false, nil
}

// NormalizeCode drops spaces and dashes and lowercases, so "123 456" and
// "ABCDE-FGHJK" are accepted as typed.
func NormalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
}

// IsTOTPCode reports whether code (normalized) looks like a 6-digit TOTP
// code; recovery codes are 10 characters, so they never do.
func IsTOTPCode(code string) bool {
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

// RecoveryCodeHash is the stored hash of a recovery code as typed.
func RecoveryCodeHash(code string) string { return HashSecret(NormalizeCode(code)) }

// UseSecondFactor checks code against the confirmed enrollment t and spends
// it: a TOTP code of a step after the last accepted one (within ±1 step of
// now), or an unused recovery code. ok is false for an empty, wrong,
// replayed or used code; err is a storage failure.
func UseSecondFactor(ctx context.Context, store account.TOTPStore, t account.TOTP, code string, now time.Time) (ok bool, err error) {
	code = NormalizeCode(code)
	if code == "" || len(code) > maxCodeLen {
		return false, nil
	}
	if IsTOTPCode(code) {
		step, ok, err := MatchTOTP(t.Secret, code, now)
		if err != nil || !ok {
			return false, err
		}
		err = store.UseTOTPStep(ctx, t.AccountID, step)
		switch {
		case errors.Is(err, account.ErrStepUsed), errors.Is(err, storage.ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	}
	err = store.UseRecoveryCode(ctx, t.AccountID, HashSecret(code))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

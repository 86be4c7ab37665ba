package account

import (
	"context"
	"errors"
)

// TOTP is an account's time-based one-time password enrollment (RFC 6238):
// pending until confirmed with a valid code, then required at sign-in.
type TOTP struct {
	AccountID string
	// Secret is the base32 shared key. It must stay usable to verify codes,
	// so it cannot be hashed: stores keep it as given. Never logged.
	// TODO(security): encrypt it at rest in production (a key outside the
	// database); not done yet.
	Secret    string
	Confirmed bool
	// LastStep is the last accepted RFC 6238 time step (unix seconds / 30);
	// a code is accepted only for a later step, so it cannot be replayed.
	LastStep int64
}

// ErrStepUsed is returned by UseTOTPStep when the step is not after the last
// accepted one: the code was already used (or an older one is presented).
var ErrStepUsed = errors.New("totp step already used")

// TOTPStore is the TOTP part of the account port: one enrollment per account
// and its one-time recovery codes (only their hashes are stored). Every
// adapter passes storetest.TOTPStore; Store.Delete removes both.
type TOTPStore interface {
	// PutPendingTOTP stores an unconfirmed enrollment with LastStep 0,
	// replacing any unconfirmed one. When a confirmed enrollment exists it
	// changes nothing and returns storage.ErrAlreadyExists.
	PutPendingTOTP(ctx context.Context, accountID, secret string) error
	// GetTOTP returns the enrollment or storage.ErrNotFound when none.
	GetTOTP(ctx context.Context, accountID string) (TOTP, error)
	// ConfirmTOTP marks the pending enrollment confirmed, sets LastStep to
	// step and replaces the account's recovery codes by recoveryCodeHashes,
	// atomically. Errors: storage.ErrNotFound (no enrollment),
	// storage.ErrAlreadyExists (already confirmed; nothing changes).
	ConfirmTOTP(ctx context.Context, accountID string, step int64, recoveryCodeHashes []string) error
	// UseTOTPStep atomically sets LastStep to step when step > LastStep;
	// otherwise it returns ErrStepUsed. Of concurrent calls with one step
	// exactly one succeeds. storage.ErrNotFound when there is no enrollment.
	UseTOTPStep(ctx context.Context, accountID string, step int64) error
	// UseRecoveryCode atomically consumes the account's recovery code with
	// that hash; storage.ErrNotFound when unknown or already used. Of
	// concurrent calls exactly one succeeds.
	UseRecoveryCode(ctx context.Context, accountID, hash string) error
	// DeleteTOTP removes the enrollment and the recovery codes; deleting
	// none succeeds.
	DeleteTOTP(ctx context.Context, accountID string) error
}

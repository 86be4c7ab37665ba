package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// PutPendingTOTP upserts the unconfirmed enrollment; the upsert's WHERE
// leaves a confirmed row alone, which is then storage.ErrAlreadyExists.
func (s *Store) PutPendingTOTP(ctx context.Context, accountID, secret string) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO account_totp (account_id, secret, confirmed, last_step) VALUES (?, ?, 0, 0)
ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret, last_step = 0 WHERE account_totp.confirmed = 0`,
		accountID, secret)
	if err != nil {
		return fmt.Errorf("account %s: put totp: %w", accountID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("account %s: put totp: %w", accountID, err)
	} else if n == 0 {
		return fmt.Errorf("account %s: totp: %w", accountID, storage.ErrAlreadyExists)
	}
	return nil
}

// GetTOTP returns the enrollment.
func (s *Store) GetTOTP(ctx context.Context, accountID string) (account.TOTP, error) {
	t := account.TOTP{AccountID: accountID}
	err := s.db.QueryRowContext(ctx, "SELECT secret, confirmed, last_step FROM account_totp WHERE account_id = ?", accountID).
		Scan(&t.Secret, &t.Confirmed, &t.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return account.TOTP{}, fmt.Errorf("account %s: totp: %w", accountID, storage.ErrNotFound)
	}
	if err != nil {
		return account.TOTP{}, fmt.Errorf("account %s: get totp: %w", accountID, err)
	}
	return t, nil
}

// ConfirmTOTP confirms and replaces the recovery codes in one write
// transaction, whose first statement is the conditional UPDATE (it takes
// SQLite's write lock, so concurrent confirmations serialize).
func (s *Store) ConfirmTOTP(ctx context.Context, accountID string, step int64, recoveryCodeHashes []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, "UPDATE account_totp SET confirmed = 1, last_step = ? WHERE account_id = ? AND confirmed = 0", step, accountID)
	if err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	} else if n == 0 {
		var confirmed bool
		err := tx.QueryRowContext(ctx, "SELECT confirmed FROM account_totp WHERE account_id = ?", accountID).Scan(&confirmed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("account %s: totp: %w", accountID, storage.ErrNotFound)
		case err != nil:
			return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
		}
		return fmt.Errorf("account %s: totp confirmed: %w", accountID, storage.ErrAlreadyExists)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM account_recovery_codes WHERE account_id = ?", accountID); err != nil {
		return fmt.Errorf("account %s: replace recovery codes: %w", accountID, err)
	}
	for _, h := range recoveryCodeHashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_recovery_codes (account_id, hash) VALUES (?, ?)
ON CONFLICT DO NOTHING`, accountID, h); err != nil {
			return fmt.Errorf("account %s: insert recovery code: %w", accountID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	}
	return nil
}

// UseTOTPStep advances last_step in one conditional UPDATE, so of concurrent
// calls with one step only the first matches the row.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	res, err := s.db.ExecContext(ctx, "UPDATE account_totp SET last_step = ? WHERE account_id = ? AND last_step < ?", step, accountID, step)
	if err != nil {
		return fmt.Errorf("account %s: use totp step: %w", accountID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("account %s: use totp step: %w", accountID, err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.GetTOTP(ctx, accountID); err != nil {
		return err
	}
	return fmt.Errorf("account %s: %w", accountID, account.ErrStepUsed)
}

// UseRecoveryCode deletes the code in one statement: only one caller gets it.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, hash string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM account_recovery_codes WHERE account_id = ? AND hash = ?", accountID, hash)
	if err != nil {
		return fmt.Errorf("account %s: use recovery code: %w", accountID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("account %s: use recovery code: %w", accountID, err)
	} else if n == 0 {
		return fmt.Errorf("account %s: recovery code: %w", accountID, storage.ErrNotFound)
	}
	return nil
}

// DeleteTOTP removes the enrollment and recovery codes in one transaction.
func (s *Store) DeleteTOTP(ctx context.Context, accountID string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("account %s: delete totp: %w", accountID, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, table := range []string{"account_totp", "account_recovery_codes"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE account_id = ?", accountID); err != nil {
			return fmt.Errorf("account %s: delete %s: %w", accountID, table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account %s: delete totp: %w", accountID, err)
	}
	return nil
}

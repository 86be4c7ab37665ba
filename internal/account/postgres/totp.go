package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// PutPendingTOTP upserts the unconfirmed enrollment; the upsert's WHERE
// leaves a confirmed row alone, which is then storage.ErrAlreadyExists.
func (s *Store) PutPendingTOTP(ctx context.Context, accountID, secret string) error {
	tag, err := s.db.Exec(ctx, `INSERT INTO account_totp (account_id, secret, confirmed, last_step) VALUES ($1, $2, false, 0)
ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret, last_step = 0 WHERE NOT account_totp.confirmed`,
		accountID, secret)
	if err != nil {
		return fmt.Errorf("account %s: put totp: %w", accountID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("account %s: totp: %w", accountID, storage.ErrAlreadyExists)
	}
	return nil
}

// GetTOTP returns the enrollment.
func (s *Store) GetTOTP(ctx context.Context, accountID string) (account.TOTP, error) {
	t := account.TOTP{AccountID: accountID}
	err := s.db.QueryRow(ctx, "SELECT secret, confirmed, last_step FROM account_totp WHERE account_id = $1", accountID).
		Scan(&t.Secret, &t.Confirmed, &t.LastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.TOTP{}, fmt.Errorf("account %s: totp: %w", accountID, storage.ErrNotFound)
	}
	if err != nil {
		return account.TOTP{}, fmt.Errorf("account %s: get totp: %w", accountID, err)
	}
	return t, nil
}

// ConfirmTOTP confirms and replaces the recovery codes in one transaction.
// The conditional UPDATE locks the row: a concurrent confirmation waits, then
// finds it confirmed.
func (s *Store) ConfirmTOTP(ctx context.Context, accountID string, step int64, recoveryCodeHashes []string) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, "UPDATE account_totp SET confirmed = true, last_step = $2 WHERE account_id = $1 AND NOT confirmed", accountID, step)
	if err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	}
	if tag.RowsAffected() == 0 {
		var confirmed bool
		err := tx.QueryRow(ctx, "SELECT confirmed FROM account_totp WHERE account_id = $1", accountID).Scan(&confirmed)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("account %s: totp: %w", accountID, storage.ErrNotFound)
		case err != nil:
			return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
		}
		return fmt.Errorf("account %s: totp confirmed: %w", accountID, storage.ErrAlreadyExists)
	}
	// Two statements: a data-modifying CTE would not see the insert's rows
	// and the delete's in one snapshot.
	if _, err := tx.Exec(ctx, "DELETE FROM account_recovery_codes WHERE account_id = $1", accountID); err != nil {
		return fmt.Errorf("account %s: replace recovery codes: %w", accountID, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO account_recovery_codes (account_id, hash)
SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, accountID, recoveryCodeHashes); err != nil {
		return fmt.Errorf("account %s: replace recovery codes: %w", accountID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("account %s: confirm totp: %w", accountID, err)
	}
	return nil
}

// UseTOTPStep advances last_step in one conditional UPDATE: concurrent calls
// with one step serialize on the row lock and only the first matches.
func (s *Store) UseTOTPStep(ctx context.Context, accountID string, step int64) error {
	tag, err := s.db.Exec(ctx, "UPDATE account_totp SET last_step = $2 WHERE account_id = $1 AND last_step < $2", accountID, step)
	if err != nil {
		return fmt.Errorf("account %s: use totp step: %w", accountID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.GetTOTP(ctx, accountID); err != nil {
		return err
	}
	return fmt.Errorf("account %s: %w", accountID, account.ErrStepUsed)
}

// UseRecoveryCode deletes the code in one statement: only one caller gets it.
func (s *Store) UseRecoveryCode(ctx context.Context, accountID, hash string) error {
	tag, err := s.db.Exec(ctx, "DELETE FROM account_recovery_codes WHERE account_id = $1 AND hash = $2", accountID, hash)
	if err != nil {
		return fmt.Errorf("account %s: use recovery code: %w", accountID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("account %s: recovery code: %w", accountID, storage.ErrNotFound)
	}
	return nil
}

// DeleteTOTP removes the enrollment and recovery codes in one statement.
func (s *Store) DeleteTOTP(ctx context.Context, accountID string) error {
	if _, err := s.db.Exec(ctx, `WITH codes AS (DELETE FROM account_recovery_codes WHERE account_id = $1)
DELETE FROM account_totp WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("account %s: delete totp: %w", accountID, err)
	}
	return nil
}

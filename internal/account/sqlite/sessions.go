package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// CreateRefreshToken stores t, starting its family when new. A hash already
// stored is storage.ErrAlreadyExists.
func (s *Store) CreateRefreshToken(ctx context.Context, t account.RefreshToken) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("account %s: create refresh token: %w", t.AccountID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (family_id, account_id) VALUES (?, ?)
ON CONFLICT (family_id) DO NOTHING`, t.FamilyID, t.AccountID); err != nil {
		return fmt.Errorf("account %s: create refresh family: %w", t.AccountID, err)
	}
	if err := insertRefreshToken(ctx, tx, t); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account %s: create refresh token: %w", t.AccountID, err)
	}
	return nil
}

func insertRefreshToken(ctx context.Context, tx *sql.Tx, t account.RefreshToken) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, account_id, issued_at, expires_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
		t.Hash, t.FamilyID, t.AccountID, formatTime(t.IssuedAt), formatTime(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("account %s: insert refresh token: %w", t.AccountID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("account %s: insert refresh token: %w", t.AccountID, err)
	} else if n == 0 {
		return fmt.Errorf("account %s: refresh token: %w", t.AccountID, storage.ErrAlreadyExists)
	}
	return nil
}

// RotateRefreshToken marks oldHash used and stores next in one write
// transaction. Its first statement is the conditional UPDATE, so the
// transaction holds SQLite's write lock from the start: concurrent rotations
// serialize and only the first finds the token unused.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next account.RefreshToken, now time.Time) (account.RefreshToken, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	old := account.RefreshToken{Hash: oldHash}
	var issued, expires string
	err = tx.QueryRowContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL
RETURNING family_id, account_id, issued_at, expires_at`, formatTime(now), oldHash).
		Scan(&old.FamilyID, &old.AccountID, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return account.RefreshToken{}, s.reused(ctx, tx, oldHash, now)
	}
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	if old.IssuedAt, err = parseTime(issued); err != nil {
		return account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	if old.ExpiresAt, err = parseTime(expires); err != nil {
		return account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	var revoked bool
	err = tx.QueryRowContext(ctx, "SELECT revoked_at IS NOT NULL FROM refresh_families WHERE family_id = ?", old.FamilyID).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		revoked = true // the account is being deleted
	} else if err != nil {
		return account.RefreshToken{}, fmt.Errorf("account %s: rotate refresh token: %w", old.AccountID, err)
	}
	if revoked {
		return account.RefreshToken{}, fmt.Errorf("account %s: %w", old.AccountID, account.ErrRevoked)
	}
	if now.After(old.ExpiresAt) {
		return account.RefreshToken{}, fmt.Errorf("account %s: refresh token: %w", old.AccountID, account.ErrExpired)
	}
	next.FamilyID, next.AccountID = old.FamilyID, old.AccountID
	if err := insertRefreshToken(ctx, tx, next); err != nil {
		return account.RefreshToken{}, err
	}
	if err := tx.Commit(); err != nil {
		return account.RefreshToken{}, fmt.Errorf("account %s: rotate refresh token: %w", old.AccountID, err)
	}
	return old, nil
}

// reused explains why the conditional UPDATE of hash matched nothing: the
// token was never issued (ErrNotFound) or is already used, which revokes its
// family (committed) and is ErrReused.
func (s *Store) reused(ctx context.Context, tx *sql.Tx, hash string, now time.Time) error {
	var family, accountID string
	var used bool
	err := tx.QueryRowContext(ctx, "SELECT family_id, account_id, used_at IS NOT NULL FROM refresh_tokens WHERE hash = ?", hash).
		Scan(&family, &accountID, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("refresh token: %w", storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if !used { // cannot happen while the write lock is held
		return fmt.Errorf("account %s: rotate refresh token: %w", accountID, storage.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE refresh_families SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
		formatTime(now), family); err != nil {
		return fmt.Errorf("account %s: revoke reused refresh family: %w", accountID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account %s: revoke reused refresh family: %w", accountID, err)
	}
	return fmt.Errorf("account %s: %w", accountID, account.ErrReused)
}

// RevokeFamily revokes the family of hash, if any.
func (s *Store) RevokeFamily(ctx context.Context, hash string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?
WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE hash = ?) AND revoked_at IS NULL`,
		formatTime(time.Now()), hash); err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return nil
}

// RevokeAccountSessions revokes every family of the account.
func (s *Store) RevokeAccountSessions(ctx context.Context, accountID string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE refresh_families SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
		formatTime(time.Now()), accountID); err != nil {
		return fmt.Errorf("account %s: revoke sessions: %w", accountID, err)
	}
	return nil
}

// PutSigningKey stores k unless its ID is already stored.
func (s *Store) PutSigningKey(ctx context.Context, k account.SigningKey) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_key_pem, created_at, not_after)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Algorithm, k.PrivateKeyPEM, formatTime(k.CreatedAt), formatTime(k.NotAfter)); err != nil {
		return fmt.Errorf("signing key %s: put: %w", k.ID, err)
	}
	return nil
}

// SigningKeys returns the keys with NotAfter after since, newest first.
func (s *Store) SigningKeys(ctx context.Context, since time.Time) ([]account.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, algorithm, private_key_pem, created_at, not_after FROM signing_keys
WHERE not_after > ? ORDER BY created_at DESC, id`, formatTime(since))
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	var keys []account.SigningKey
	for rows.Next() {
		var k account.SigningKey
		var created, notAfter string
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKeyPEM, &created, &notAfter); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		if k.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		if k.NotAfter, err = parseTime(notAfter); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// RecordSignInFailure records a failure at at, forgets the account's failures
// older than the window and counts the rest.
func (s *Store) RecordSignInFailure(ctx context.Context, accountID string, at time.Time, window time.Duration) (int, error) {
	cutoff := formatTime(at.Add(-window))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("account %s: record sign-in failure: %w", accountID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "INSERT INTO sign_in_failures (account_id, at) VALUES (?, ?)", accountID, formatTime(at)); err != nil {
		return 0, fmt.Errorf("account %s: record sign-in failure: %w", accountID, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sign_in_failures WHERE account_id = ? AND at < ?", accountID, cutoff); err != nil {
		return 0, fmt.Errorf("account %s: prune sign-in failures: %w", accountID, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sign_in_failures WHERE account_id = ? AND at > ?", accountID, cutoff).Scan(&n); err != nil {
		return 0, fmt.Errorf("account %s: count sign-in failures: %w", accountID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("account %s: record sign-in failure: %w", accountID, err)
	}
	return n, nil
}

// ClearSignInFailures forgets the account's failures.
func (s *Store) ClearSignInFailures(ctx context.Context, accountID string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM sign_in_failures WHERE account_id = ?", accountID); err != nil {
		return fmt.Errorf("account %s: clear sign-in failures: %w", accountID, err)
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// CreateRefreshToken stores t, starting its family when new, in one
// statement. A hash already stored is storage.ErrAlreadyExists.
func (s *Store) CreateRefreshToken(ctx context.Context, t account.RefreshToken) error {
	tag, err := s.db.Exec(ctx, `WITH family AS (
	INSERT INTO refresh_families (family_id, account_id) VALUES ($2, $3) ON CONFLICT (family_id) DO NOTHING)
INSERT INTO refresh_tokens (hash, family_id, account_id, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
		t.Hash, t.FamilyID, t.AccountID, ts(t.IssuedAt), ts(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("account %s: create refresh token: %w", t.AccountID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("account %s: refresh token: %w", t.AccountID, storage.ErrAlreadyExists)
	}
	return nil
}

// RotateRefreshToken marks oldHash used and stores next in one transaction.
// The conditional UPDATE locks the token row: a concurrent rotation waits for
// this transaction, then finds the token used (or, if this one rolled back,
// unused) — of concurrent rotations exactly one succeeds.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next account.RefreshToken, now time.Time) (account.RefreshToken, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	old := account.RefreshToken{Hash: oldHash}
	err = tx.QueryRow(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL
RETURNING family_id, account_id, issued_at, expires_at`, oldHash, ts(now)).
		Scan(&old.FamilyID, &old.AccountID, &old.IssuedAt, &old.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.RefreshToken{}, s.reused(ctx, tx, oldHash, now)
	}
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	old.IssuedAt, old.ExpiresAt = old.IssuedAt.UTC(), old.ExpiresAt.UTC()
	var revoked bool
	err = tx.QueryRow(ctx, "SELECT revoked_at IS NOT NULL FROM refresh_families WHERE family_id = $1", old.FamilyID).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, family_id, account_id, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
		next.Hash, old.FamilyID, old.AccountID, ts(next.IssuedAt), ts(next.ExpiresAt))
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("account %s: insert refresh token: %w", old.AccountID, err)
	}
	if tag.RowsAffected() == 0 {
		return account.RefreshToken{}, fmt.Errorf("account %s: refresh token: %w", old.AccountID, storage.ErrAlreadyExists)
	}
	if err := tx.Commit(ctx); err != nil {
		return account.RefreshToken{}, fmt.Errorf("account %s: rotate refresh token: %w", old.AccountID, err)
	}
	return old, nil
}

// reused explains why the conditional UPDATE of hash matched nothing: the
// token was never issued (ErrNotFound) or is already used (used_at is never
// cleared), which revokes its family — committed — and is ErrReused.
func (s *Store) reused(ctx context.Context, tx pgx.Tx, hash string, now time.Time) error {
	var family, accountID string
	var used bool
	err := tx.QueryRow(ctx, "SELECT family_id, account_id, used_at IS NOT NULL FROM refresh_tokens WHERE hash = $1", hash).
		Scan(&family, &accountID, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("refresh token: %w", storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("rotate refresh token: %w", err)
	}
	if !used { // created after the UPDATE ran: a race the caller may retry
		return fmt.Errorf("account %s: rotate refresh token: %w", accountID, storage.ErrConflict)
	}
	if _, err := tx.Exec(ctx, "UPDATE refresh_families SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
		family, ts(now)); err != nil {
		return fmt.Errorf("account %s: revoke reused refresh family: %w", accountID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("account %s: revoke reused refresh family: %w", accountID, err)
	}
	return fmt.Errorf("account %s: %w", accountID, account.ErrReused)
}

// RevokeFamily revokes the family of hash, if any.
func (s *Store) RevokeFamily(ctx context.Context, hash string) error {
	if _, err := s.db.Exec(ctx, `UPDATE refresh_families SET revoked_at = now()
WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE hash = $1) AND revoked_at IS NULL`, hash); err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return nil
}

// RevokeAccountSessions revokes every family of the account.
func (s *Store) RevokeAccountSessions(ctx context.Context, accountID string) error {
	if _, err := s.db.Exec(ctx, "UPDATE refresh_families SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
		accountID); err != nil {
		return fmt.Errorf("account %s: revoke sessions: %w", accountID, err)
	}
	return nil
}

// PutSigningKey stores k unless its ID is already stored.
func (s *Store) PutSigningKey(ctx context.Context, k account.SigningKey) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_key_pem, created_at, not_after)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Algorithm, k.PrivateKeyPEM, ts(k.CreatedAt), ts(k.NotAfter)); err != nil {
		return fmt.Errorf("signing key %s: put: %w", k.ID, err)
	}
	return nil
}

// SigningKeys returns the keys with NotAfter after since, newest first.
func (s *Store) SigningKeys(ctx context.Context, since time.Time) ([]account.SigningKey, error) {
	rows, err := s.db.Query(ctx, `SELECT id, algorithm, private_key_pem, created_at, not_after FROM signing_keys
WHERE not_after > $1 ORDER BY created_at DESC, id`, ts(since))
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	var keys []account.SigningKey
	for rows.Next() {
		var k account.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKeyPEM, &k.CreatedAt, &k.NotAfter); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		k.CreatedAt, k.NotAfter = k.CreatedAt.UTC(), k.NotAfter.UTC()
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// RecordSignInFailure records a failure at at, forgets the account's failures
// older than the window and counts the rest (the new row included: a
// statement of the transaction sees the rows its earlier statements wrote).
func (s *Store) RecordSignInFailure(ctx context.Context, accountID string, at time.Time, window time.Duration) (int, error) {
	cutoff := ts(at.Add(-window))
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("account %s: record sign-in failure: %w", accountID, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `WITH pruned AS (DELETE FROM sign_in_failures WHERE account_id = $1 AND at < $3)
INSERT INTO sign_in_failures (account_id, at) VALUES ($1, $2)`, accountID, ts(at), cutoff); err != nil {
		return 0, fmt.Errorf("account %s: record sign-in failure: %w", accountID, err)
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM sign_in_failures WHERE account_id = $1 AND at > $2", accountID, cutoff).Scan(&n); err != nil {
		return 0, fmt.Errorf("account %s: count sign-in failures: %w", accountID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("account %s: record sign-in failure: %w", accountID, err)
	}
	return n, nil
}

// ClearSignInFailures forgets the account's failures.
func (s *Store) ClearSignInFailures(ctx context.Context, accountID string) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM sign_in_failures WHERE account_id = $1", accountID); err != nil {
		return fmt.Errorf("account %s: clear sign-in failures: %w", accountID, err)
	}
	return nil
}

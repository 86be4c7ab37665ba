package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// pruneOneIn is how often (one write in that many) a write also deletes the
// expired OIDC rows.
const pruneOneIn = 32

// pruneOIDC deletes expired records and codes; best effort.
func (s *Store) pruneOIDC(ctx context.Context) {
	if rand.IntN(pruneOneIn) != 0 {
		return
	}
	now := formatTime(time.Now())
	_, _ = s.db.ExecContext(ctx, "DELETE FROM oidc_records WHERE expires_at <= ?", now)
	_, _ = s.db.ExecContext(ctx, "DELETE FROM oidc_codes WHERE expires_at <= ?", now)
}

// PutOIDCRecord upserts the record.
func (s *Store) PutOIDCRecord(ctx context.Context, kind, id string, data []byte, expiresAt time.Time) error {
	if data == nil {
		data = []byte{}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO oidc_records (kind, id, data, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
		kind, id, data, formatTime(expiresAt)); err != nil {
		return fmt.Errorf("oidc %s: put: %w", kind, err)
	}
	s.pruneOIDC(ctx)
	return nil
}

// GetOIDCRecord returns a live record's data.
func (s *Store) GetOIDCRecord(ctx context.Context, kind, id string, now time.Time) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, "SELECT data FROM oidc_records WHERE kind = ? AND id = ? AND expires_at > ?",
		kind, id, formatTime(now)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("oidc %s: %w", kind, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc %s: get: %w", kind, err)
	}
	return data, nil
}

// DeleteOIDCRecord removes the record.
func (s *Store) DeleteOIDCRecord(ctx context.Context, kind, id string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM oidc_records WHERE kind = ? AND id = ?", kind, id); err != nil {
		return fmt.Errorf("oidc %s: delete: %w", kind, err)
	}
	return nil
}

// PutOIDCCode upserts the code's mapping.
func (s *Store) PutOIDCCode(ctx context.Context, code, requestID string, expiresAt time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO oidc_codes (code, request_id, expires_at) VALUES (?, ?, ?)
ON CONFLICT (code) DO UPDATE SET request_id = excluded.request_id, expires_at = excluded.expires_at`,
		code, requestID, formatTime(expiresAt)); err != nil {
		return fmt.Errorf("oidc code: put: %w", err)
	}
	s.pruneOIDC(ctx)
	return nil
}

// TakeOIDCCode deletes the code in one statement (DELETE ... RETURNING), so
// only one caller gets the row; an expired row is deleted too but refused.
func (s *Store) TakeOIDCCode(ctx context.Context, code string, now time.Time) (string, error) {
	var id, expires string
	err := s.db.QueryRowContext(ctx, "DELETE FROM oidc_codes WHERE code = ? RETURNING request_id, expires_at", code).
		Scan(&id, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("oidc code: %w", storage.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("oidc code: take: %w", err)
	}
	exp, err := parseTime(expires)
	if err != nil {
		return "", fmt.Errorf("oidc code: take: %w", err)
	}
	if !exp.After(now) {
		return "", fmt.Errorf("oidc code: %w", storage.ErrNotFound)
	}
	return id, nil
}

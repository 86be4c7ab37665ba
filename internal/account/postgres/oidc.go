package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ejazz/ejazz/internal/storage"
)

// pruneOneIn is how often (one write in that many) a write also deletes the
// expired OIDC rows.
const pruneOneIn = 32

// pruneOIDC deletes expired records and codes in one statement; best effort.
func (s *Store) pruneOIDC(ctx context.Context) {
	if rand.IntN(pruneOneIn) != 0 {
		return
	}
	_, _ = s.db.Exec(ctx, `WITH r AS (DELETE FROM oidc_records WHERE expires_at <= now())
DELETE FROM oidc_codes WHERE expires_at <= now()`)
}

// PutOIDCRecord upserts the record.
func (s *Store) PutOIDCRecord(ctx context.Context, kind, id string, data []byte, expiresAt time.Time) error {
	if data == nil {
		data = []byte{}
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO oidc_records (kind, id, data, expires_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
		kind, id, data, ts(expiresAt)); err != nil {
		return fmt.Errorf("oidc %s: put: %w", kind, err)
	}
	s.pruneOIDC(ctx)
	return nil
}

// GetOIDCRecord returns a live record's data.
func (s *Store) GetOIDCRecord(ctx context.Context, kind, id string, now time.Time) ([]byte, error) {
	var data []byte
	err := s.db.QueryRow(ctx, "SELECT data FROM oidc_records WHERE kind = $1 AND id = $2 AND expires_at > $3",
		kind, id, ts(now)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("oidc %s: %w", kind, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc %s: get: %w", kind, err)
	}
	return data, nil
}

// DeleteOIDCRecord removes the record.
func (s *Store) DeleteOIDCRecord(ctx context.Context, kind, id string) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM oidc_records WHERE kind = $1 AND id = $2", kind, id); err != nil {
		return fmt.Errorf("oidc %s: delete: %w", kind, err)
	}
	return nil
}

// PutOIDCCode upserts the code's mapping.
func (s *Store) PutOIDCCode(ctx context.Context, code, requestID string, expiresAt time.Time) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO oidc_codes (code, request_id, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (code) DO UPDATE SET request_id = excluded.request_id, expires_at = excluded.expires_at`,
		code, requestID, ts(expiresAt)); err != nil {
		return fmt.Errorf("oidc code: put: %w", err)
	}
	s.pruneOIDC(ctx)
	return nil
}

// TakeOIDCCode deletes the code in one statement (DELETE ... RETURNING):
// concurrent takes serialize on the row lock and only the first gets it. An
// expired row is deleted too but refused.
func (s *Store) TakeOIDCCode(ctx context.Context, code string, now time.Time) (string, error) {
	var id string
	var expires time.Time
	err := s.db.QueryRow(ctx, "DELETE FROM oidc_codes WHERE code = $1 RETURNING request_id, expires_at", code).
		Scan(&id, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("oidc code: %w", storage.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("oidc code: take: %w", err)
	}
	if !expires.After(now) {
		return "", fmt.Errorf("oidc code: %w", storage.ErrNotFound)
	}
	return id, nil
}

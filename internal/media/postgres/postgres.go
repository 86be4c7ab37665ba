// Package postgres implements the media store port on PostgreSQL (scale profile).
//
// One row per item in the media table; variants are a jsonb array and
// durations milliseconds. A Transition is one statement: a conditional
// UPDATE in a CTE plus an existence check, so the status test and the write
// are atomic (a concurrent transition waits for the row lock, then sees the
// new status and does not apply).
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the media store on PostgreSQL.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ media.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: media.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "media", Statements: []string{
		`CREATE TABLE IF NOT EXISTS media (
	id           text PRIMARY KEY,
	owner_id     text NOT NULL,
	status       smallint NOT NULL,
	content_type text NOT NULL,
	size_bytes   bigint NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now()
)`,
		"CREATE INDEX IF NOT EXISTS media_owner ON media (owner_id)",
	}},
	// Rows written before version 2 declared the type they have and were
	// last updated when they were created.
	{Version: 2, Name: "media pipeline fields", Statements: []string{
		`ALTER TABLE media
	ADD COLUMN IF NOT EXISTS declared_type  text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS filename       text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS width          integer NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS height         integer NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS duration_ms    bigint NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS variants       jsonb NOT NULL DEFAULT '[]'::jsonb,
	ADD COLUMN IF NOT EXISTS failure_reason text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS updated_at     timestamptz`,
		"UPDATE media SET declared_type = content_type WHERE declared_type = ''",
		"UPDATE media SET updated_at = created_at WHERE updated_at IS NULL",
		"ALTER TABLE media ALTER COLUMN updated_at SET NOT NULL, ALTER COLUMN updated_at SET DEFAULT now()",
	}},
}

const columns = "id, owner_id, status, declared_type, content_type, size_bytes, filename, width, height, duration_ms, variants, failure_reason, created_at, updated_at"

func variantsJSON(vs []media.Variant) (string, error) {
	if vs == nil {
		vs = []media.Variant{}
	}
	b, err := json.Marshal(vs)
	return string(b), err
}

func scanMedia(row pgx.Row) (media.Media, error) {
	var m media.Media
	var status int16
	var width, height int32
	var durationMS int64
	var variants []byte
	if err := row.Scan(&m.ID, &m.OwnerID, &status, &m.DeclaredType, &m.ContentType, &m.Size, &m.Filename,
		&width, &height, &durationMS, &variants, &m.FailureReason, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return media.Media{}, err
	}
	m.Status = media.Status(status)
	m.Width, m.Height = int(width), int(height)
	m.Duration = time.Duration(durationMS) * time.Millisecond
	if err := json.Unmarshal(variants, &m.Variants); err != nil {
		return media.Media{}, fmt.Errorf("media %s: variants: %w", m.ID, err)
	}
	if len(m.Variants) == 0 {
		m.Variants = nil
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

// Create inserts m; an existing ID is storage.ErrAlreadyExists. A zero
// CreatedAt is now; a zero UpdatedAt is CreatedAt.
func (s *Store) Create(ctx context.Context, m media.Media) error {
	if m.ID == "" {
		return errors.New("create media: id is required")
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	updated := m.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	variants, err := variantsJSON(m.Variants)
	if err != nil {
		return fmt.Errorf("create media %s: variants: %w", m.ID, err)
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO media (`+columns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14)
ON CONFLICT (id) DO NOTHING`,
		m.ID, m.OwnerID, int16(m.Status), m.DeclaredType, m.ContentType, m.Size, m.Filename, int32(m.Width), int32(m.Height),
		m.Duration.Milliseconds(), variants, m.FailureReason, created.UTC().Truncate(time.Microsecond), updated.UTC().Truncate(time.Microsecond))
	if err != nil {
		return fmt.Errorf("create media %s: %w", m.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create media %s: %w", m.ID, storage.ErrAlreadyExists)
	}
	return nil
}

// Get returns the item id.
func (s *Store) Get(ctx context.Context, id string) (media.Media, error) {
	m, err := scanMedia(s.db.QueryRow(ctx, `SELECT `+columns+` FROM media WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return media.Media{}, fmt.Errorf("media %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return media.Media{}, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

// GetMany returns the known items among ids, keyed by ID.
func (s *Store) GetMany(ctx context.Context, ids []string) (map[string]media.Media, error) {
	out := make(map[string]media.Media, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM media WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
		out[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return out, nil
}

// Transition applies r if the item's status is one of from, in one
// conditional UPDATE, and reports whether it did.
func (s *Store) Transition(ctx context.Context, id string, from []media.Status, r media.Result) (bool, error) {
	if r.Status < media.Pending || r.Status > media.Failed {
		return false, fmt.Errorf("transition media %s: invalid status %d", id, r.Status)
	}
	variants, err := variantsJSON(r.Variants)
	if err != nil {
		return false, fmt.Errorf("transition media %s: variants: %w", id, err)
	}
	statuses := make([]int16, len(from))
	for i, st := range from {
		statuses[i] = int16(st)
	}
	// The outer SELECT sees the table as of the statement's start, so the row
	// counts as existing whether or not the UPDATE applied.
	var applied, exists bool
	err = s.db.QueryRow(ctx, `WITH updated AS (
	UPDATE media SET
		status         = $3,
		content_type   = coalesce(nullif($4, ''), content_type),
		width          = $5,
		height         = $6,
		duration_ms    = $7,
		variants       = $8::jsonb,
		failure_reason = $9,
		updated_at     = $10
	WHERE id = $1 AND status = ANY($2::smallint[])
	RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM updated), EXISTS (SELECT 1 FROM media WHERE id = $1)`,
		id, statuses, int16(r.Status), r.ContentType, int32(r.Width), int32(r.Height), r.Duration.Milliseconds(), variants,
		r.FailureReason, time.Now().UTC().Truncate(time.Microsecond)).Scan(&applied, &exists)
	if err != nil {
		return false, fmt.Errorf("transition media %s: %w", id, err)
	}
	if !applied && !exists {
		return false, fmt.Errorf("transition media %s: %w", id, storage.ErrNotFound)
	}
	return applied, nil
}

// Delete removes the item id, if any.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM media WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	return nil
}

// ScanMedia pages through the items by ID; the cursor is the last ID.
func (s *Store) ScanMedia(ctx context.Context, cursor string, limit int) ([]media.Media, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("scan media: limit %d must be positive", limit)
	}
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM media WHERE id > $1 ORDER BY id LIMIT $2`, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("scan media: %w", err)
	}
	defer rows.Close()
	var out []media.Media
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, "", fmt.Errorf("scan media: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("scan media: %w", err)
	}
	if len(out) < limit {
		return out, "", nil
	}
	return out, out[len(out)-1].ID, nil
}

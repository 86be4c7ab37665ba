// Package sqlite implements the media store port on SQLite (embedded profile).
//
// One row per item in the media table. Times are RFC 3339 text in UTC with
// microsecond precision (the precision of the PostgreSQL adapter), durations
// are milliseconds and variants a JSON array. Writes go through
// engine.DB.Write, which serializes writers, so a Transition's conditional
// UPDATE and its existence check see the same state.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the media store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ media.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: media.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "media", Statements: []string{
		`CREATE TABLE IF NOT EXISTS media (
	id           TEXT PRIMARY KEY,
	owner_id     TEXT NOT NULL,
	status       INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	size_bytes   INTEGER NOT NULL,
	created_at   TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS media_owner ON media (owner_id)",
	}},
	// Rows written before version 2 declared the type they have and were
	// last updated when they were created.
	{Version: 2, Name: "media pipeline fields", Statements: []string{
		"ALTER TABLE media ADD COLUMN declared_type TEXT NOT NULL DEFAULT ''",
		"ALTER TABLE media ADD COLUMN filename TEXT NOT NULL DEFAULT ''",
		"ALTER TABLE media ADD COLUMN width INTEGER NOT NULL DEFAULT 0",
		"ALTER TABLE media ADD COLUMN height INTEGER NOT NULL DEFAULT 0",
		"ALTER TABLE media ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0",
		"ALTER TABLE media ADD COLUMN variants TEXT NOT NULL DEFAULT '[]'",
		"ALTER TABLE media ADD COLUMN failure_reason TEXT NOT NULL DEFAULT ''",
		"ALTER TABLE media ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''",
		"UPDATE media SET declared_type = content_type WHERE declared_type = ''",
		"UPDATE media SET updated_at = created_at WHERE updated_at = ''",
	}},
}

const columns = "id, owner_id, status, declared_type, content_type, size_bytes, filename, width, height, duration_ms, variants, failure_reason, created_at, updated_at"

// timeFormat has a fixed number of fractional digits, so that stored times
// sort as text.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeFormat) }

func parseTime(id, column, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("media %s: %s %q: %w", id, column, s, err)
	}
	return t.UTC(), nil
}

func variantsJSON(vs []media.Variant) (string, error) {
	if vs == nil {
		vs = []media.Variant{}
	}
	b, err := json.Marshal(vs)
	return string(b), err
}

type scanner interface{ Scan(dest ...any) error }

func scanMedia(row scanner) (media.Media, error) {
	var m media.Media
	var durationMS int64
	var variants, created, updated string
	if err := row.Scan(&m.ID, &m.OwnerID, &m.Status, &m.DeclaredType, &m.ContentType, &m.Size, &m.Filename,
		&m.Width, &m.Height, &durationMS, &variants, &m.FailureReason, &created, &updated); err != nil {
		return media.Media{}, err
	}
	m.Duration = time.Duration(durationMS) * time.Millisecond
	if err := json.Unmarshal([]byte(variants), &m.Variants); err != nil {
		return media.Media{}, fmt.Errorf("media %s: variants: %w", m.ID, err)
	}
	if len(m.Variants) == 0 {
		m.Variants = nil
	}
	var err error
	if m.CreatedAt, err = parseTime(m.ID, "created_at", created); err != nil {
		return media.Media{}, err
	}
	if updated == "" {
		m.UpdatedAt = m.CreatedAt
	} else if m.UpdatedAt, err = parseTime(m.ID, "updated_at", updated); err != nil {
		return media.Media{}, err
	}
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
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO media (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`,
			m.ID, m.OwnerID, int(m.Status), m.DeclaredType, m.ContentType, m.Size, m.Filename, m.Width, m.Height,
			m.Duration.Milliseconds(), variants, m.FailureReason, formatTime(created), formatTime(updated))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrAlreadyExists
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create media %s: %w", m.ID, err)
	}
	return nil
}

// Get returns the item id.
func (s *Store) Get(ctx context.Context, id string) (media.Media, error) {
	m, err := scanMedia(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM media WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return media.Media{}, fmt.Errorf("media %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return media.Media{}, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

// batch bounds the IDs of one GetMany query, well under SQLite's limit on
// bound parameters.
const batch = 500

// GetMany returns the known items among ids, keyed by ID.
func (s *Store) GetMany(ctx context.Context, ids []string) (map[string]media.Media, error) {
	out := make(map[string]media.Media, len(ids))
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := s.getMany(ctx, chunk, args, out); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
	}
	return out, nil
}

func (s *Store) getMany(ctx context.Context, ids []string, args []any, out map[string]media.Media) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM media WHERE id IN (`+marks(len(ids))+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return err
		}
		out[m.ID] = m
	}
	return rows.Err()
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

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
	applied := false
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if len(from) > 0 {
			args := []any{int(r.Status), r.ContentType, r.Width, r.Height, r.Duration.Milliseconds(), variants, r.FailureReason,
				formatTime(time.Now()), id}
			for _, st := range from {
				args = append(args, int(st))
			}
			res, err := tx.ExecContext(ctx, `UPDATE media SET
	status         = ?,
	content_type   = coalesce(nullif(?, ''), content_type),
	width          = ?,
	height         = ?,
	duration_ms    = ?,
	variants       = ?,
	failure_reason = ?,
	updated_at     = ?
WHERE id = ? AND status IN (`+marks(len(from))+`)`, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 1 {
				applied = true
				return nil
			}
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM media WHERE id = ?)`, id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return storage.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("transition media %s: %w", id, err)
	}
	return applied, nil
}

// Delete removes the item id, if any.
func (s *Store) Delete(ctx context.Context, id string) error {
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM media WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	return nil
}

// ScanMedia pages through the items by ID; the cursor is the last ID.
func (s *Store) ScanMedia(ctx context.Context, cursor string, limit int) ([]media.Media, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("scan media: limit %d must be positive", limit)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM media WHERE id > ? ORDER BY id LIMIT ?`, cursor, limit)
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

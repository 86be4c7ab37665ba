// Package postgres implements the profile store port on PostgreSQL (scale profile).
//
// Search uses the pg_trgm extension: GIN trigram indexes on lower(handle)
// and lower(display_name) serve the prefix LIKEs and the similarity
// operators, and the ranking is one SQL query (see search.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the profile store on PostgreSQL.
type Store struct {
	storage.Component
	db *engine.DB
	// trgm is the quoted schema of pg_trgm, looked up once.
	trgm atomic.Pointer[string]
}

var _ profile.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: profile.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "profiles", Statements: []string{
		`CREATE TABLE IF NOT EXISTS profiles (
	user_id         text PRIMARY KEY,
	handle          text NOT NULL,
	display_name    text NOT NULL DEFAULT '',
	bio             text NOT NULL DEFAULT '',
	avatar_media_id text NOT NULL DEFAULT '',
	is_private      boolean NOT NULL DEFAULT false,
	created_at      timestamptz NOT NULL DEFAULT now()
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS profiles_handle ON profiles (lower(handle))",
	}},
	// pg_trgm is database-wide: it is installed once, in public (or wherever
	// it already is), not in the store's schema, which may be one of several
	// (tests use a schema each and drop it). The store qualifies its
	// functions, operators and operator classes with that schema.
	{Version: 2, Name: "profile search (pg_trgm)", Statements: []string{
		`DO $$
DECLARE ext text;
BEGIN
	SELECT n.nspname INTO ext FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
	IF ext IS NULL THEN
		ext := CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN 'public' ELSE current_schema() END;
		EXECUTE format('CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA %I', ext);
	END IF;
	EXECUTE format('CREATE INDEX IF NOT EXISTS profiles_handle_trgm ON profiles USING gin (lower(handle) %I.gin_trgm_ops)', ext);
	EXECUTE format('CREATE INDEX IF NOT EXISTS profiles_display_name_trgm ON profiles USING gin (lower(display_name) %I.gin_trgm_ops)', ext);
END $$`,
	}},
}

const columns = "user_id, handle, display_name, bio, avatar_media_id, is_private, created_at"

// scanProfile reads the columns above plus any extra destinations.
func scanProfile(row pgx.Row, extra ...any) (profile.Profile, error) {
	var p profile.Profile
	if err := row.Scan(append([]any{&p.UserID, &p.Handle, &p.DisplayName, &p.Bio, &p.AvatarMediaID, &p.IsPrivate, &p.CreatedAt}, extra...)...); err != nil {
		return profile.Profile{}, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, nil
}

// Create inserts p; the same user and handle again is a no-op, a handle (or
// user) already taken is storage.ErrAlreadyExists.
func (s *Store) Create(ctx context.Context, p profile.Profile) error {
	if p.UserID == "" || p.Handle == "" {
		return errors.New("create profile: user id and handle are required")
	}
	created := p.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	created = created.UTC().Truncate(time.Microsecond)
	for range 3 {
		tag, err := s.db.Exec(ctx, `INSERT INTO profiles (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			p.UserID, p.Handle, p.DisplayName, p.Bio, p.AvatarMediaID, p.IsPrivate, created)
		if err != nil {
			return fmt.Errorf("create profile %s: %w", p.UserID, err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		// A unique key is taken: the user's own profile (a retry) or the handle.
		existing, err := s.Get(ctx, p.UserID)
		switch {
		case err == nil && strings.EqualFold(existing.Handle, p.Handle):
			return nil
		case err == nil:
			return fmt.Errorf("create profile %s: the user already has a profile (@%s): %w", p.UserID, existing.Handle, storage.ErrAlreadyExists)
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		if _, err := s.GetByHandle(ctx, p.Handle); err == nil {
			return fmt.Errorf("create profile %s: handle %q: %w", p.UserID, p.Handle, storage.ErrAlreadyExists)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		// The conflicting row was deleted meanwhile: try again.
	}
	return fmt.Errorf("create profile %s: %w", p.UserID, storage.ErrConflict)
}

// Get returns the profile of userID.
func (s *Store) Get(ctx context.Context, userID string) (profile.Profile, error) {
	p, err := scanProfile(s.db.QueryRow(ctx, `SELECT `+columns+` FROM profiles WHERE user_id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return profile.Profile{}, fmt.Errorf("profile %s: %w", userID, storage.ErrNotFound)
	}
	if err != nil {
		return profile.Profile{}, fmt.Errorf("profile %s: %w", userID, err)
	}
	return p, nil
}

// GetMany returns the known profiles among userIDs, in that order.
func (s *Store) GetMany(ctx context.Context, userIDs []string) ([]profile.Profile, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM profiles WHERE user_id = ANY($1)`, userIDs)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]profile.Profile, len(userIDs))
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("profiles: %w", err)
		}
		byID[p.UserID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return profile.InOrder(userIDs, byID), nil
}

// GetByHandle returns the profile whose handle equals handle case-insensitively.
func (s *Store) GetByHandle(ctx context.Context, handle string) (profile.Profile, error) {
	p, err := scanProfile(s.db.QueryRow(ctx, `SELECT `+columns+` FROM profiles WHERE lower(handle) = lower($1)`, handle))
	if errors.Is(err, pgx.ErrNoRows) {
		return profile.Profile{}, fmt.Errorf("profile @%s: %w", handle, storage.ErrNotFound)
	}
	if err != nil {
		return profile.Profile{}, fmt.Errorf("profile @%s: %w", handle, err)
	}
	return p, nil
}

// Update sets the non-nil fields of u and returns the profile.
func (s *Store) Update(ctx context.Context, userID string, u profile.Update) (profile.Profile, error) {
	p, err := scanProfile(s.db.QueryRow(ctx, `UPDATE profiles SET
	display_name    = coalesce($1, display_name),
	bio             = coalesce($2, bio),
	avatar_media_id = coalesce($3, avatar_media_id),
	is_private      = coalesce($4, is_private)
WHERE user_id = $5 RETURNING `+columns, u.DisplayName, u.Bio, u.AvatarMediaID, u.IsPrivate, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return profile.Profile{}, fmt.Errorf("update profile %s: %w", userID, storage.ErrNotFound)
	}
	if err != nil {
		return profile.Profile{}, fmt.Errorf("update profile %s: %w", userID, err)
	}
	return p, nil
}

// Delete removes the profile of userID, if any.
func (s *Store) Delete(ctx context.Context, userID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM profiles WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("delete profile %s: %w", userID, err)
	}
	return nil
}

// Package sqlite implements the profile store port on SQLite (embedded profile).
//
// Search uses an FTS5 table with the trigram tokenizer (profiles_fts), kept in
// sync with profiles by triggers, to find candidates; ranking, word-prefix
// checks and the fuzzy score (trigram similarity and edit distance) are
// computed in Go. See search.go.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the profile store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ profile.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: profile.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// searchText is the SQL expression (over x) that the FTS table indexes: the
// text padded with spaces and with the usual word separators of handles and
// names turned into spaces, so that trigrams mark word starts and ends (" al",
// "ce "), which lets a typo anywhere in a short word still share a trigram.
// Go's ftsText must do the same to a query.
func searchText(x string) string {
	return `' ' || replace(replace(replace(replace(` + x + `, '_', ' '), '-', ' '), '.', ' '), '''', ' ') || ' '`
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "profiles", Statements: []string{
		`CREATE TABLE IF NOT EXISTS profiles (
	user_id         TEXT PRIMARY KEY,
	handle          TEXT NOT NULL,
	display_name    TEXT NOT NULL DEFAULT '',
	bio             TEXT NOT NULL DEFAULT '',
	avatar_media_id TEXT NOT NULL DEFAULT '',
	is_private      INTEGER NOT NULL DEFAULT 0,
	created_at      TEXT NOT NULL
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS profiles_handle ON profiles (lower(handle))",
	}},
	{Version: 2, Name: "profile search (FTS5 trigram)", Statements: []string{
		// profiles has no INTEGER PRIMARY KEY, so its rowids may change on
		// VACUUM: the FTS rows are keyed by ids of their own.
		`CREATE TABLE IF NOT EXISTS profiles_search_ids (
	id      INTEGER PRIMARY KEY,
	user_id TEXT NOT NULL UNIQUE
)`,
		`CREATE VIRTUAL TABLE IF NOT EXISTS profiles_fts USING fts5(handle, display_name, tokenize = 'trigram')`,
		`INSERT INTO profiles_search_ids (user_id) SELECT user_id FROM profiles WHERE true ON CONFLICT DO NOTHING`,
		`INSERT INTO profiles_fts (rowid, handle, display_name)
	SELECT i.id, ` + searchText("p.handle") + `, ` + searchText("p.display_name") + `
	FROM profiles p JOIN profiles_search_ids i ON i.user_id = p.user_id
	WHERE i.id NOT IN (SELECT rowid FROM profiles_fts)`,
		`CREATE TRIGGER IF NOT EXISTS profiles_search_insert AFTER INSERT ON profiles BEGIN
	INSERT INTO profiles_search_ids (user_id) VALUES (new.user_id) ON CONFLICT DO NOTHING;
	INSERT INTO profiles_fts (rowid, handle, display_name)
		SELECT id, ` + searchText("new.handle") + `, ` + searchText("new.display_name") + `
		FROM profiles_search_ids WHERE user_id = new.user_id;
END`,
		`CREATE TRIGGER IF NOT EXISTS profiles_search_update AFTER UPDATE OF user_id, handle, display_name ON profiles BEGIN
	UPDATE profiles_search_ids SET user_id = new.user_id WHERE user_id = old.user_id;
	UPDATE profiles_fts SET handle = ` + searchText("new.handle") + `, display_name = ` + searchText("new.display_name") + `
		WHERE rowid = (SELECT id FROM profiles_search_ids WHERE user_id = new.user_id);
END`,
		`CREATE TRIGGER IF NOT EXISTS profiles_search_delete AFTER DELETE ON profiles BEGIN
	DELETE FROM profiles_fts WHERE rowid = (SELECT id FROM profiles_search_ids WHERE user_id = old.user_id);
	DELETE FROM profiles_search_ids WHERE user_id = old.user_id;
END`,
	}},
}

const columns = "user_id, handle, display_name, bio, avatar_media_id, is_private, created_at"

type scanner interface{ Scan(dest ...any) error }

// scanProfile reads the columns above plus any extra destinations.
func scanProfile(row scanner, extra ...any) (profile.Profile, error) {
	var p profile.Profile
	var created string
	if err := row.Scan(append([]any{&p.UserID, &p.Handle, &p.DisplayName, &p.Bio, &p.AvatarMediaID, &p.IsPrivate, &created}, extra...)...); err != nil {
		return profile.Profile{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return profile.Profile{}, fmt.Errorf("profile %s: created_at %q: %w", p.UserID, created, err)
	}
	p.CreatedAt = t.UTC()
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
		res, err := s.db.ExecContext(ctx, `INSERT INTO profiles (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.UserID, p.Handle, p.DisplayName, p.Bio, p.AvatarMediaID, p.IsPrivate, created.Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("create profile %s: %w", p.UserID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
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
	p, err := scanProfile(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM profiles WHERE user_id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Profile{}, fmt.Errorf("profile %s: %w", userID, storage.ErrNotFound)
	}
	return p, err
}

// GetMany returns the known profiles among userIDs, in that order.
func (s *Store) GetMany(ctx context.Context, userIDs []string) ([]profile.Profile, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(userIDs))
	for i, id := range userIDs {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM profiles WHERE user_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(userIDs)), ",")+`)`, args...)
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
	p, err := scanProfile(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM profiles WHERE lower(handle) = lower(?)`, handle))
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Profile{}, fmt.Errorf("profile @%s: %w", handle, storage.ErrNotFound)
	}
	return p, err
}

// Update sets the non-nil fields of u and returns the profile.
func (s *Store) Update(ctx context.Context, userID string, u profile.Update) (profile.Profile, error) {
	p, err := scanProfile(s.db.QueryRowContext(ctx, `UPDATE profiles SET
	display_name    = coalesce(?, display_name),
	bio             = coalesce(?, bio),
	avatar_media_id = coalesce(?, avatar_media_id),
	is_private      = coalesce(?, is_private)
WHERE user_id = ? RETURNING `+columns, u.DisplayName, u.Bio, u.AvatarMediaID, u.IsPrivate, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Profile{}, fmt.Errorf("update profile %s: %w", userID, storage.ErrNotFound)
	}
	if err != nil {
		return profile.Profile{}, fmt.Errorf("update profile %s: %w", userID, err)
	}
	return p, nil
}

// Delete removes the profile of userID, if any.
func (s *Store) Delete(ctx context.Context, userID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM profiles WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete profile %s: %w", userID, err)
	}
	return nil
}

// Package sqlite implements the timeline store port on SQLite (embedded
// profile): one table keyed by (owner, at, post, reposter), so a timeline
// page is a range scan of the primary key and a rewritten entry is a no-op.
// A fan-out batch (one entry to many owners) is one transaction.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

// Store is the timeline store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ timeline.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: timeline.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "home timeline", Statements: []string{
		`CREATE TABLE IF NOT EXISTS home_timeline (
	user_id     TEXT NOT NULL,
	entry_id    TEXT NOT NULL,
	post_id     TEXT NOT NULL,
	author_id   TEXT NOT NULL,
	reposted_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user_id, entry_id)
)`,
	}},
	// Version 1's table was never written to; version 2 replaces it.
	{Version: 2, Name: "timeline entries", Statements: []string{
		"DROP TABLE IF EXISTS home_timeline",
		`CREATE TABLE timeline_entries (
	owner       TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	post_id     TEXT    NOT NULL,
	reposted_by TEXT    NOT NULL,
	author_id   TEXT    NOT NULL,
	PRIMARY KEY (owner, at, post_id, reposted_by)
) WITHOUT ROWID`,
	}},
}

// Add writes e into every owner's timeline in one transaction.
func (s *Store) Add(ctx context.Context, owners []string, e timeline.Entry) error {
	return s.AddMany(ctx, []timeline.Write{{Owners: owners, Entry: e}})
}

// AddMany writes every entry to its owners in one transaction.
func (s *Store) AddMany(ctx context.Context, ws []timeline.Write) error {
	n := 0
	for _, w := range ws {
		n += len(w.Owners)
	}
	if n == 0 {
		return nil
	}
	return wrap("add", s.db.Write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO timeline_entries (owner, at, post_id, reposted_by, author_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, w := range ws {
			for _, o := range w.Owners {
				if _, err := st.ExecContext(ctx, o, w.Entry.At.UnixMilli(), w.Entry.PostID, w.Entry.RepostedBy, w.Entry.AuthorID); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// Page lists owner's entries newest first.
func (s *Store) Page(ctx context.Context, owner, cursor string, limit int) ([]timeline.Entry, string, error) {
	after, ok, err := timeline.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("timeline: limit %d must be positive", limit)
	}
	q := `SELECT at, post_id, reposted_by, author_id FROM timeline_entries WHERE owner = ?`
	args := []any{owner}
	if ok {
		q += ` AND (at, post_id, reposted_by) < (?, ?, ?)`
		args = append(args, after.At.UnixMilli(), after.PostID, after.RepostedBy)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY at DESC, post_id DESC, reposted_by DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", wrap("page", err)
	}
	defer rows.Close()
	var out []timeline.Entry
	for rows.Next() {
		var e timeline.Entry
		var at int64
		if err := rows.Scan(&at, &e.PostID, &e.RepostedBy, &e.AuthorID); err != nil {
			return nil, "", wrap("page", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("page", err)
	}
	if len(out) > limit {
		out = out[:limit]
		return out, timeline.EncodeCursor(out[limit-1]), nil
	}
	return out, "", nil
}

// Remove deletes e from every owner's timeline.
func (s *Store) Remove(ctx context.Context, owners []string, e timeline.Entry) error {
	if len(owners) == 0 {
		return nil
	}
	return wrap("remove", s.db.Write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `DELETE FROM timeline_entries WHERE owner = ? AND at = ? AND post_id = ? AND reposted_by = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, o := range owners {
			if _, err := st.ExecContext(ctx, o, e.At.UnixMilli(), e.PostID, e.RepostedBy); err != nil {
				return err
			}
		}
		return nil
	}))
}

// RemoveAuthor deletes authorID's posts and reposts from owner's timeline.
func (s *Store) RemoveAuthor(ctx context.Context, owner, authorID string) (int, error) {
	var n int64
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM timeline_entries WHERE owner = ? AND (author_id = ? OR reposted_by = ?)`, owner, authorID, authorID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrap("remove author", err)
}

// Trim keeps owner's newest keep entries.
func (s *Store) Trim(ctx context.Context, owner string, keep int) error {
	if keep < 0 {
		return fmt.Errorf("timeline: trim: keep %d must not be negative", keep)
	}
	return wrap("trim", s.db.Write(ctx, func(tx *sql.Tx) error {
		if keep == 0 {
			_, err := tx.ExecContext(ctx, `DELETE FROM timeline_entries WHERE owner = ?`, owner)
			return err
		}
		var at int64
		var post, reposter string
		err := tx.QueryRowContext(ctx, `SELECT at, post_id, reposted_by FROM timeline_entries WHERE owner = ?
ORDER BY at DESC, post_id DESC, reposted_by DESC LIMIT 1 OFFSET ?`, owner, keep-1).Scan(&at, &post, &reposter)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM timeline_entries WHERE owner = ? AND (at, post_id, reposted_by) < (?, ?, ?)`, owner, at, post, reposter)
		return err
	}))
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("timeline: %s: %w", op, err)
}

// Package sqlite implements the notification ports on SQLite (embedded
// profile): the inbox (Store) and the preferences (Preferences), which may
// share one database file.
//
// The inbox is one table keyed by (user_id, id), with an index by
// (user_id, at, id) for newest-first pages and a partial index of the unread
// rows by group key for Apply's merge lookup. Apply, MarkRead and
// MarkAllRead are each one transaction, so a merge and a concurrent MarkRead
// never interleave.
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
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the notification inbox on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ notification.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: notification.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "inbox", Statements: []string{
		`CREATE TABLE IF NOT EXISTS inbox (
	user_id         TEXT NOT NULL,
	notification_id TEXT NOT NULL,
	kind            INTEGER NOT NULL,
	payload         BLOB NOT NULL,
	read            INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, notification_id)
)`,
	}},
	// Version 1's table was never written to; version 2 replaces it with
	// grouped notifications (package comment).
	{Version: 2, Name: "grouped notifications", Statements: []string{
		"DROP TABLE IF EXISTS inbox",
		`CREATE TABLE IF NOT EXISTS notifications (
	user_id     TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	post_id     TEXT    NOT NULL,
	group_key   TEXT    NOT NULL,
	actors      TEXT    NOT NULL,
	actor_count INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	read        INTEGER NOT NULL DEFAULT 0,
	batches     TEXT    NOT NULL,
	PRIMARY KEY (user_id, id)
) WITHOUT ROWID`,
		"CREATE INDEX IF NOT EXISTS notifications_by_time ON notifications (user_id, at DESC, id DESC)",
		"CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (user_id, group_key) WHERE read = 0",
	}},
}

const columns = "id, user_id, kind, post_id, group_key, actors, actor_count, at, read, batches"

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (notification.Notification, error) {
	var n notification.Notification
	var kind, actors, batches string
	var at int64
	var read int
	if err := row.Scan(&n.ID, &n.UserID, &kind, &n.PostID, &n.Key, &actors, &n.ActorCount, &at, &read, &batches); err != nil {
		return n, err
	}
	n.Kind, n.At, n.Read = notification.Kind(kind), time.UnixMilli(at).UTC(), read != 0
	if err := json.Unmarshal([]byte(actors), &n.Actors); err != nil {
		return n, fmt.Errorf("notification %s: actors: %w", n.ID, err)
	}
	if err := json.Unmarshal([]byte(batches), &n.Batches); err != nil {
		return n, fmt.Errorf("notification %s: batches: %w", n.ID, err)
	}
	return n, nil
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Apply merges batch into userID's inbox in one transaction.
func (s *Store) Apply(ctx context.Context, userID string, batch notification.Batch) ([]notification.Notification, error) {
	if userID == "" || batch.ID == "" {
		return nil, errors.New("notifications: apply: user and batch ID are required")
	}
	var out []notification.Notification
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		opened := false
		for _, g := range batch.Groups {
			n, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM notifications WHERE user_id = ? AND id = ?`, userID, g.ID))
			if err == nil { // opened by this batch already
				out = append(out, n)
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			n, err = scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM notifications WHERE user_id = ? AND group_key = ? AND read = 0
ORDER BY at DESC, id DESC LIMIT 1`, userID, g.Key))
			switch {
			case err == nil && n.HasBatch(batch.ID):
				out = append(out, n)
				continue
			case err == nil:
				n = notification.Merge(n, g, batch.ID)
				_, err = tx.ExecContext(ctx, `UPDATE notifications SET actors = ?, actor_count = ?, at = ?, batches = ? WHERE user_id = ? AND id = ?`,
					jsonList(n.Actors), n.ActorCount, n.At.UnixMilli(), jsonList(n.Batches), userID, n.ID)
			case errors.Is(err, sql.ErrNoRows):
				n = notification.Open(userID, g, batch.ID)
				_, err = tx.ExecContext(ctx, `INSERT INTO notifications (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
					n.ID, userID, string(n.Kind), n.PostID, n.Key, jsonList(n.Actors), n.ActorCount, n.At.UnixMilli(), jsonList(n.Batches))
				opened = true
			}
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		if !opened {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM notifications WHERE user_id = ? AND id IN (
	SELECT id FROM notifications WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?)`, userID, userID, notification.MaxInbox)
		return err
	})
	if err != nil {
		return nil, wrap("apply", err)
	}
	return out, nil
}

// List returns userID's notifications newest first.
func (s *Store) List(ctx context.Context, userID, cursor string, limit int, unreadOnly bool) ([]notification.Notification, string, error) {
	at, id, ok, err := notification.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("notifications: limit %d must be positive", limit)
	}
	q := `SELECT ` + columns + ` FROM notifications WHERE user_id = ?`
	args := []any{userID}
	if unreadOnly {
		q += ` AND read = 0`
	}
	if ok {
		q += ` AND (at, id) < (?, ?)`
		args = append(args, at.UnixMilli(), id)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY at DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", wrap("list", err)
	}
	defer rows.Close()
	var out []notification.Notification
	for rows.Next() {
		n, err := scan(rows)
		if err != nil {
			return nil, "", wrap("list", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("list", err)
	}
	if len(out) > limit {
		out = out[:limit]
		return out, notification.EncodeCursor(out[limit-1]), nil
	}
	return out, "", nil
}

// UnreadCount counts userID's unread notifications.
func (s *Store) UnreadCount(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read = 0`, userID).Scan(&n)
	return n, wrap("unread count", err)
}

// MarkRead marks ids read, all or none.
func (s *Store) MarkRead(ctx context.Context, userID string, ids []string) error {
	ids = distinct(ids)
	if len(ids) == 0 {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := []any{userID}
	for _, id := range ids {
		args = append(args, id)
	}
	return wrap("mark read", s.db.Write(ctx, func(tx *sql.Tx) error {
		var found int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND id IN (`+marks+`)`, args...).Scan(&found); err != nil {
			return err
		}
		if found != len(ids) {
			return storage.ErrNotFound
		}
		_, err := tx.ExecContext(ctx, `UPDATE notifications SET read = 1 WHERE user_id = ? AND id IN (`+marks+`)`, args...)
		return err
	}))
}

// MarkAllRead marks every notification of userID read.
func (s *Store) MarkAllRead(ctx context.Context, userID string) error {
	return wrap("mark all read", s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE notifications SET read = 1 WHERE user_id = ? AND read = 0`, userID)
		return err
	}))
}

func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("notifications: %s: %w", op, err)
}

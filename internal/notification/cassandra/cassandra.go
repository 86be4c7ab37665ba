// Package cassandra implements the notification inbox port on Cassandra
// (scale profile) with gocql, on the shared session of
// internal/engine/cassandra and at its consistency (LOCAL_QUORUM).
//
// # Tables
//
// One partition per recipient in two tables holding the same rows:
//
//	notifications         ((user_id), id)                         lookups by ID and by group key
//	notifications_by_time ((user_id), at DESC, id DESC)           newest-first pages
//
// with kind, post_id, group_key, actors and batches (frozen lists: one cell,
// so rewriting them leaves no collection tombstones), actor_count and read.
// Every write of a notification writes both tables in one logged batch, so
// they agree once it is applied. A merge that moves a notification to a new
// time deletes its old by-time row in the same batch.
//
// # Bounded partitions and filtering
//
// Apply trims an inbox to notification.MaxInbox rows, so a partition stays
// small; the lookups that are not by key (the unread notification of a
// group key, the unread count, unread-only pages) are single-partition
// queries with ALLOW FILTERING, which read at most that many rows.
//
// # Concurrency
//
// Cassandra has no transactions here. Apply runs one at a time per
// recipient (the batching workflow is the only writer of an inbox), but
// MarkRead can race it: a batch merged into a notification being marked
// read leaves it unread (it has news the user has not seen), and a read
// mark that lands on the by-time row a merge just moved leaves a row that
// has only a read flag — List skips such rows and deletes them.
package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	engine "github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// markBatch is how many notifications one logged batch of MarkAllRead or a
// trim touches.
const markBatch = 25

// Store is the notification inbox on Cassandra.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ notification.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: notification.Component, EngineName: "cassandra", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "inbox", Statements: []string{
		`CREATE TABLE IF NOT EXISTS inbox (
	user_id         text,
	notification_id text,
	kind            int,
	payload         blob,
	read            boolean,
	PRIMARY KEY (user_id, notification_id)
) WITH CLUSTERING ORDER BY (notification_id DESC)`,
	}},
	// Version 1's table was never written to; version 2 replaces it with
	// the two tables of grouped notifications (package comment).
	{Version: 2, Name: "grouped notifications", Statements: []string{
		`DROP TABLE IF EXISTS inbox`,
		`CREATE TABLE IF NOT EXISTS notifications (
	user_id     text,
	id          text,
	kind        text,
	post_id     text,
	group_key   text,
	actors      frozen<list<text>>,
	actor_count int,
	at          timestamp,
	read        boolean,
	batches     frozen<list<text>>,
	PRIMARY KEY ((user_id), id)
)`,
		`CREATE TABLE IF NOT EXISTS notifications_by_time (
	user_id     text,
	at          timestamp,
	id          text,
	kind        text,
	post_id     text,
	group_key   text,
	actors      frozen<list<text>>,
	actor_count int,
	read        boolean,
	batches     frozen<list<text>>,
	PRIMARY KEY ((user_id), at, id)
) WITH CLUSTERING ORDER BY (at DESC, id DESC)`,
	}},
}

const byIDCols = "id, kind, post_id, group_key, actors, actor_count, at, read, batches"

func (s *Store) query(ctx context.Context, stmt string, args ...any) *gocql.Query {
	return s.db.Session.Query(stmt, args...).WithContext(ctx)
}

// scanRow scans byIDCols (in that order) from an iterator or a query.
func scanRow(userID string, scan func(dest ...any) bool) (notification.Notification, bool) {
	n := notification.Notification{UserID: userID}
	var kind string
	var at int64
	if !scan(&n.ID, &kind, &n.PostID, &n.Key, &n.Actors, &n.ActorCount, &at, &n.Read, &n.Batches) {
		return n, false
	}
	n.Kind, n.At = notification.Kind(kind), time.UnixMilli(at).UTC()
	return n, true
}

func (s *Store) get(ctx context.Context, userID, id string) (notification.Notification, bool, error) {
	it := s.query(ctx, `SELECT `+byIDCols+` FROM notifications WHERE user_id = ? AND id = ?`, userID, id).Iter()
	n, ok := scanRow(userID, it.Scan)
	return n, ok, it.Close()
}

// openGroup finds the newest unread notification of key.
func (s *Store) openGroup(ctx context.Context, userID, key string) (notification.Notification, bool, error) {
	it := s.query(ctx, `SELECT `+byIDCols+` FROM notifications WHERE user_id = ? AND group_key = ? AND read = false ALLOW FILTERING`, userID, key).Iter()
	var best notification.Notification
	found := false
	for {
		n, ok := scanRow(userID, it.Scan)
		if !ok {
			break
		}
		if !found || notification.Newer(n, best) {
			best, found = n, true
		}
	}
	return best, found, it.Close()
}

// write stores n in both tables in one logged batch; prevAt, when not zero
// and different, is the by-time row to delete (a move).
func (s *Store) write(ctx context.Context, n notification.Notification, prevAt time.Time) error {
	b := s.db.Session.NewBatch(gocql.LoggedBatch).WithContext(ctx)
	b.Query(`INSERT INTO notifications (user_id, `+byIDCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.UserID, n.ID, string(n.Kind), n.PostID, n.Key, n.Actors, n.ActorCount, n.At.UnixMilli(), n.Read, n.Batches)
	if !prevAt.IsZero() && prevAt.UnixMilli() != n.At.UnixMilli() {
		b.Query(`DELETE FROM notifications_by_time WHERE user_id = ? AND at = ? AND id = ?`, n.UserID, prevAt.UnixMilli(), n.ID)
	}
	b.Query(`INSERT INTO notifications_by_time (user_id, `+byIDCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.UserID, n.ID, string(n.Kind), n.PostID, n.Key, n.Actors, n.ActorCount, n.At.UnixMilli(), n.Read, n.Batches)
	return s.db.Session.ExecuteBatch(b)
}

// Apply merges batch into userID's inbox, group by group.
func (s *Store) Apply(ctx context.Context, userID string, batch notification.Batch) ([]notification.Notification, error) {
	if userID == "" || batch.ID == "" {
		return nil, errors.New("notifications: apply: user and batch ID are required")
	}
	out := make([]notification.Notification, 0, len(batch.Groups))
	opened := false
	for _, g := range batch.Groups {
		n, ok, err := s.get(ctx, userID, g.ID)
		if err != nil {
			return nil, wrap("apply", err)
		}
		if ok && n.Kind != "" { // opened by this batch already
			out = append(out, n)
			continue
		}
		n, ok, err = s.openGroup(ctx, userID, g.Key)
		if err != nil {
			return nil, wrap("apply", err)
		}
		var prev time.Time
		switch {
		case ok && n.HasBatch(batch.ID):
			out = append(out, n)
			continue
		case ok:
			prev = n.At
			n = notification.Merge(n, g, batch.ID)
		default:
			n = notification.Open(userID, g, batch.ID)
			opened = true
		}
		if err := s.write(ctx, n, prev); err != nil {
			return nil, wrap("apply", err)
		}
		out = append(out, n)
	}
	if opened {
		if err := s.trim(ctx, userID); err != nil {
			return nil, wrap("apply: trim", err)
		}
	}
	return out, nil
}

type key struct {
	at int64
	id string
}

// trim deletes the notifications beyond MaxInbox, oldest first.
func (s *Store) trim(ctx context.Context, userID string) error {
	it := s.query(ctx, `SELECT at, id FROM notifications_by_time WHERE user_id = ?`, userID).PageSize(1000).Iter()
	var gone []key
	var k key
	n := 0
	for it.Scan(&k.at, &k.id) {
		n++
		if n > notification.MaxInbox {
			gone = append(gone, k)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for i := 0; i < len(gone); i += markBatch {
		b := s.db.Session.NewBatch(gocql.LoggedBatch).WithContext(ctx)
		for _, k := range gone[i:min(i+markBatch, len(gone))] {
			b.Query(`DELETE FROM notifications_by_time WHERE user_id = ? AND at = ? AND id = ?`, userID, k.at, k.id)
			b.Query(`DELETE FROM notifications WHERE user_id = ? AND id = ?`, userID, k.id)
		}
		if err := s.db.Session.ExecuteBatch(b); err != nil {
			return err
		}
	}
	return nil
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
	var out []notification.Notification
	var ghosts []key
	for len(out) <= limit {
		stmt := `SELECT ` + byIDCols + ` FROM notifications_by_time WHERE user_id = ?`
		args := []any{userID}
		if ok {
			stmt += ` AND (at, id) < (?, ?)`
			args = append(args, at.UnixMilli(), id)
		}
		if unreadOnly {
			stmt += ` AND read = false`
		}
		want := limit + 1 - len(out)
		stmt += ` LIMIT ?`
		args = append(args, want)
		if unreadOnly {
			stmt += ` ALLOW FILTERING`
		}
		it := s.query(ctx, stmt, args...).PageSize(want).Iter()
		got := 0
		for {
			n, more := scanRow(userID, it.Scan)
			if !more {
				break
			}
			got++
			at, id, ok = n.At, n.ID, true
			if n.Kind == "" { // a read mark that missed a moved row
				ghosts = append(ghosts, key{n.At.UnixMilli(), n.ID})
				continue
			}
			out = append(out, n)
		}
		if err := it.Close(); err != nil {
			return nil, "", wrap("list", err)
		}
		if got < want {
			break // the end of the inbox
		}
	}
	for _, g := range ghosts {
		_ = s.query(ctx, `DELETE FROM notifications_by_time WHERE user_id = ? AND at = ? AND id = ?`, userID, g.at, g.id).Idempotent(true).Exec()
	}
	if len(out) > limit {
		out = out[:limit]
		return out, notification.EncodeCursor(out[limit-1]), nil
	}
	return out, "", nil
}

// UnreadCount counts userID's unread notifications.
func (s *Store) UnreadCount(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.query(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read = false ALLOW FILTERING`, userID).Scan(&n)
	return int(n), wrap("unread count", err)
}

// MarkRead marks ids read, all or none.
func (s *Store) MarkRead(ctx context.Context, userID string, ids []string) error {
	ids = distinct(ids)
	if len(ids) == 0 {
		return nil
	}
	it := s.query(ctx, `SELECT id, at, read, kind FROM notifications WHERE user_id = ? AND id IN ?`, userID, ids).Iter()
	var unread []key
	var k key
	var read bool
	var kind string
	exist := 0
	for it.Scan(&k.id, &k.at, &read, &kind) {
		if kind == "" {
			continue // a read mark on a trimmed row: not a notification
		}
		exist++
		if !read {
			unread = append(unread, k)
		}
	}
	if err := it.Close(); err != nil {
		return wrap("mark read", err)
	}
	if exist != len(ids) {
		return wrap("mark read", storage.ErrNotFound)
	}
	return wrap("mark read", s.markRead(ctx, userID, unread))
}

func (s *Store) markRead(ctx context.Context, userID string, keys []key) error {
	for i := 0; i < len(keys); i += markBatch {
		b := s.db.Session.NewBatch(gocql.LoggedBatch).WithContext(ctx)
		for _, k := range keys[i:min(i+markBatch, len(keys))] {
			b.Query(`UPDATE notifications SET read = true WHERE user_id = ? AND id = ?`, userID, k.id)
			b.Query(`UPDATE notifications_by_time SET read = true WHERE user_id = ? AND at = ? AND id = ?`, userID, k.at, k.id)
		}
		if err := s.db.Session.ExecuteBatch(b); err != nil {
			return err
		}
	}
	return nil
}

// MarkAllRead marks every notification of userID read.
func (s *Store) MarkAllRead(ctx context.Context, userID string) error {
	it := s.query(ctx, `SELECT id, at FROM notifications WHERE user_id = ? AND read = false ALLOW FILTERING`, userID).PageSize(1000).Iter()
	var keys []key
	var k key
	for it.Scan(&k.id, &k.at) {
		keys = append(keys, k)
	}
	if err := it.Close(); err != nil {
		return wrap("mark all read", err)
	}
	return wrap("mark all read", s.markRead(ctx, userID, keys))
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

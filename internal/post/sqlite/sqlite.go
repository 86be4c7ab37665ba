// Package sqlite implements the post store port on SQLite (embedded
// profile). Posts, hashtag index entries, edits, likes, reposts and comments
// are plain tables; counts are COUNT(*) over the (indexed) membership tables,
// so they are exact by construction and a retried like changes nothing.
// Writes that touch several tables run in one transaction (engine.DB.Write),
// so a failed CreatePost or DeletePost leaves nothing half-written.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the post store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ post.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: post.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "posts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS posts (
	id         TEXT PRIMARY KEY,
	author_id  TEXT NOT NULL,
	body       TEXT NOT NULL,
	visibility INTEGER NOT NULL,
	created_at TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS posts_author ON posts (author_id, id DESC)",
	}},
	// Version 1's table was never written to; version 2 replaces it.
	{Version: 2, Name: "posts, edits, hashtags, likes, reposts, comments", Statements: []string{
		"DROP TABLE IF EXISTS posts",
		`CREATE TABLE posts (
	id              TEXT PRIMARY KEY,
	author_id       TEXT NOT NULL,
	text            TEXT NOT NULL,
	media_ids       TEXT NOT NULL DEFAULT '[]',
	visibility      INTEGER NOT NULL,
	content_warning TEXT NOT NULL DEFAULT '',
	quote_post_id   TEXT NOT NULL DEFAULT '',
	hashtags        TEXT NOT NULL DEFAULT '[]',
	mentions        TEXT NOT NULL DEFAULT '[]',
	created_at      INTEGER NOT NULL,
	edited_at       INTEGER NOT NULL DEFAULT 0,
	idempotency_key TEXT
)`,
		"CREATE INDEX posts_author ON posts (author_id, id)",
		"CREATE UNIQUE INDEX posts_idempotency ON posts (author_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
		`CREATE TABLE post_hashtags (
	tag     TEXT NOT NULL,
	post_id TEXT NOT NULL,
	PRIMARY KEY (tag, post_id)
) WITHOUT ROWID`,
		"CREATE INDEX post_hashtags_post ON post_hashtags (post_id)",
		`CREATE TABLE post_edits (
	post_id         TEXT NOT NULL,
	at              INTEGER NOT NULL,
	text            TEXT NOT NULL,
	content_warning TEXT NOT NULL,
	PRIMARY KEY (post_id, at)
) WITHOUT ROWID`,
		`CREATE TABLE post_likes (
	post_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (post_id, user_id)
) WITHOUT ROWID`,
		"CREATE INDEX post_likes_time ON post_likes (post_id, at, user_id)",
		`CREATE TABLE post_reposts (
	post_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (post_id, user_id)
) WITHOUT ROWID`,
		`CREATE TABLE post_comments (
	id         TEXT PRIMARY KEY,
	post_id    TEXT NOT NULL,
	author_id  TEXT NOT NULL,
	parent_id  TEXT NOT NULL DEFAULT '',
	text       TEXT NOT NULL,
	created_at INTEGER NOT NULL
)`,
		"CREATE INDEX post_comments_post ON post_comments (post_id, id)",
		"CREATE INDEX post_comments_parent ON post_comments (parent_id) WHERE parent_id <> ''",
	}},
	// Idempotency keys outlive their posts, so that a create retried after
	// the post was deleted does not bring it back.
	{Version: 3, Name: "idempotency keys", Statements: []string{
		`CREATE TABLE post_idempotency (
	author_id TEXT NOT NULL,
	key       TEXT NOT NULL,
	post_id   TEXT NOT NULL,
	PRIMARY KEY (author_id, key)
) WITHOUT ROWID`,
		`INSERT INTO post_idempotency (author_id, key, post_id)
	SELECT author_id, idempotency_key, id FROM posts WHERE idempotency_key IS NOT NULL`,
	}},
}

const columns = "id, author_id, text, media_ids, visibility, content_warning, quote_post_id, hashtags, mentions, created_at, edited_at"

type scanner interface{ Scan(dest ...any) error }

func scanPost(row scanner) (post.Post, error) {
	var p post.Post
	var media, tags, mentions string
	var created, edited int64
	if err := row.Scan(&p.ID, &p.AuthorID, &p.Text, &media, &p.Visibility, &p.ContentWarning, &p.QuotePostID, &tags, &mentions, &created, &edited); err != nil {
		return p, err
	}
	for _, f := range []struct {
		raw string
		dst *[]string
	}{{media, &p.MediaIDs}, {tags, &p.Hashtags}, {mentions, &p.Mentions}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return p, fmt.Errorf("post %s: %w", p.ID, err)
		}
		if len(*f.dst) == 0 {
			*f.dst = nil
		}
	}
	p.CreatedAt = time.Unix(0, created).UTC()
	if edited != 0 {
		p.EditedAt = time.Unix(0, edited).UTC()
	}
	return p, nil
}

func list(xs []string) string {
	if xs == nil {
		xs = []string{}
	}
	b, _ := json.Marshal(xs)
	return string(b)
}

// Create stores p, or returns the author's post made with the same key.
func (s *Store) Create(ctx context.Context, p post.Post, key string) (post.Post, bool, error) {
	var idem any
	if key != "" {
		idem = key
	}
	var existing post.Post
	created := false
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if key != "" {
			var id string
			err := tx.QueryRowContext(ctx, `SELECT post_id FROM post_idempotency WHERE author_id = ? AND key = ?`, p.AuthorID, key).Scan(&id)
			if err == nil {
				existing, err = scanPost(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM posts WHERE id = ?`, id))
				if errors.Is(err, sql.ErrNoRows) {
					return storage.ErrNotFound // created, then deleted
				}
				return err
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO post_idempotency (author_id, key, post_id) VALUES (?, ?, ?)`, p.AuthorID, key, p.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO posts (`+columns+`, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
			p.ID, p.AuthorID, p.Text, list(p.MediaIDs), p.Visibility, p.ContentWarning, p.QuotePostID, list(p.Hashtags), list(p.Mentions),
			p.CreatedAt.UnixNano(), idem); err != nil {
			return err
		}
		created = true
		return tag(ctx, tx, p.ID, p.Hashtags)
	})
	if err != nil {
		return post.Post{}, false, wrap("create", err)
	}
	if !created {
		return existing, false, nil
	}
	p.EditedAt = time.Time{}
	return p, true, nil
}

func tag(ctx context.Context, tx *sql.Tx, id string, tags []string) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO post_hashtags (tag, post_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, t, id); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a post.
func (s *Store) Get(ctx context.Context, id string) (post.Post, error) {
	p, err := scanPost(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM posts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, wrap("get", storage.ErrNotFound)
	}
	return p, wrap("get", err)
}

// GetMany returns the existing posts among ids, in order.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]post.Post, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM posts WHERE id IN (`+marks(len(ids))+`)`, anys(ids)...)
	if err != nil {
		return nil, wrap("get many", err)
	}
	ps, err := scanPosts(rows)
	if err != nil {
		return nil, wrap("get many", err)
	}
	byID := make(map[string]post.Post, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
	}
	out := make([]post.Post, 0, len(ps))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out = append(out, p)
			delete(byID, id)
		}
	}
	return out, nil
}

func scanPosts(rows *sql.Rows) ([]post.Post, error) {
	defer rows.Close()
	var out []post.Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Edit replaces the post's text and keeps the previous version.
func (s *Store) Edit(ctx context.Context, id, text, cw string, hashtags, mentions []string, at time.Time) (post.Post, error) {
	var p post.Post
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPost(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM posts WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		prev := p.CreatedAt
		if !p.EditedAt.IsZero() {
			prev = p.EditedAt
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO post_edits (post_id, at, text, content_warning) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id, prev.UnixNano(), p.Text, p.ContentWarning); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE posts SET text = ?, content_warning = ?, hashtags = ?, mentions = ?, edited_at = ? WHERE id = ?`,
			text, cw, list(hashtags), list(mentions), at.UnixNano(), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM post_hashtags WHERE post_id = ?`, id); err != nil {
			return err
		}
		p.Text, p.ContentWarning, p.Hashtags, p.Mentions, p.EditedAt = text, cw, hashtags, mentions, at.UTC()
		return tag(ctx, tx, id, hashtags)
	})
	if err != nil {
		return post.Post{}, wrap("edit", err)
	}
	return p, nil
}

// Edits lists earlier versions, newest first.
func (s *Store) Edits(ctx context.Context, id, cursor string, limit int) ([]post.Edit, string, error) {
	c, err := post.DecodeCursor(cursor, 1)
	if err != nil {
		return nil, "", err
	}
	before := int64(1<<63 - 1)
	if c != nil {
		if before, err = strconv.ParseInt(c[0], 10, 64); err != nil {
			return nil, "", post.ErrBadCursor
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT text, content_warning, at FROM post_edits WHERE post_id = ? AND at < ? ORDER BY at DESC LIMIT ?`, id, before, limit+1)
	if err != nil {
		return nil, "", wrap("edits", err)
	}
	defer rows.Close()
	var out []post.Edit
	for rows.Next() {
		var e post.Edit
		var at int64
		if err := rows.Scan(&e.Text, &e.ContentWarning, &at); err != nil {
			return nil, "", wrap("edits", err)
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("edits", err)
	}
	if len(out) > limit {
		out = out[:limit]
		return out, post.EncodeCursor(strconv.FormatInt(out[limit-1].At.UnixNano(), 10)), nil
	}
	return out, "", nil
}

// Delete removes the post and everything hanging off it.
func (s *Store) Delete(ctx context.Context, id string) (post.Post, bool, error) {
	var p post.Post
	deleted := false
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPost(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM posts WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, table := range []string{"post_hashtags", "post_edits", "post_likes", "post_reposts", "post_comments"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE post_id = ?`, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM posts WHERE id = ?`, id)
		deleted = err == nil
		return err
	})
	if err != nil {
		return post.Post{}, false, wrap("delete", err)
	}
	return p, deleted, nil
}

// ByAuthor lists an author's posts, newest first.
func (s *Store) ByAuthor(ctx context.Context, authorID, cursor string, limit int) ([]post.Post, string, error) {
	return s.page(ctx, `SELECT `+columns+` FROM posts WHERE author_id = ?`, "id", authorID, cursor, limit)
}

// ByHashtag lists the posts with a hashtag, newest first.
func (s *Store) ByHashtag(ctx context.Context, tag, cursor string, limit int) ([]post.Post, string, error) {
	return s.page(ctx, `SELECT `+prefixed("p.")+` FROM post_hashtags h JOIN posts p ON p.id = h.post_id WHERE h.tag = ?`, "h.post_id", tag, cursor, limit)
}

func prefixed(prefix string) string {
	cols := strings.Split(columns, ", ")
	for i := range cols {
		cols[i] = prefix + cols[i]
	}
	return strings.Join(cols, ", ")
}

// page runs query (with one bind) newest first by idCol after cursor.
func (s *Store) page(ctx context.Context, query, idCol, arg, cursor string, limit int) ([]post.Post, string, error) {
	c, err := post.DecodeCursor(cursor, 1)
	if err != nil {
		return nil, "", err
	}
	args := []any{arg}
	if c != nil {
		query += ` AND ` + idCol + ` < ?`
		args = append(args, c[0])
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY `+idCol+` DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", wrap("list", err)
	}
	ps, err := scanPosts(rows)
	if err != nil {
		return nil, "", wrap("list", err)
	}
	if len(ps) > limit {
		ps = ps[:limit]
		return ps, post.EncodeCursor(ps[limit-1].ID), nil
	}
	return ps, "", nil
}

// PostCounts counts each author's posts.
func (s *Store) PostCounts(ctx context.Context, authorIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(authorIDs))
	if len(authorIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT author_id, count(*) FROM posts WHERE author_id IN (`+marks(len(authorIDs))+`) GROUP BY author_id`, anys(authorIDs)...)
	if err != nil {
		return nil, wrap("post counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, wrap("post counts", err)
		}
		out[id] = n
	}
	return out, wrap("post counts", rows.Err())
}

// Like records a like.
func (s *Store) Like(ctx context.Context, postID, userID string, at time.Time) (bool, error) {
	return s.engage(ctx, "post_likes", postID, userID, at)
}

// Unlike removes a like.
func (s *Store) Unlike(ctx context.Context, postID, userID string) (bool, error) {
	return s.disengage(ctx, "post_likes", postID, userID)
}

// Repost records a repost.
func (s *Store) Repost(ctx context.Context, postID, userID string, at time.Time) (bool, error) {
	return s.engage(ctx, "post_reposts", postID, userID, at)
}

// UndoRepost removes a repost.
func (s *Store) UndoRepost(ctx context.Context, postID, userID string) (bool, error) {
	return s.disengage(ctx, "post_reposts", postID, userID)
}

func (s *Store) engage(ctx context.Context, table, postID, userID string, at time.Time) (bool, error) {
	changed := false
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM posts WHERE id = ?`, postID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (post_id, user_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, postID, userID, at.UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return err
	})
	return changed, wrap(table, err)
}

func (s *Store) disengage(ctx context.Context, table, postID, userID string) (bool, error) {
	changed := false
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE post_id = ? AND user_id = ?`, postID, userID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return err
	})
	return changed, wrap(table, err)
}

// Likes lists who liked a post, newest first.
func (s *Store) Likes(ctx context.Context, postID, cursor string, limit int) ([]post.Engagement, string, error) {
	c, err := post.DecodeCursor(cursor, 2)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT user_id, at FROM post_likes WHERE post_id = ?`
	args := []any{postID}
	if c != nil {
		at, err := strconv.ParseInt(c[0], 10, 64)
		if err != nil {
			return nil, "", post.ErrBadCursor
		}
		q += ` AND (at, user_id) < (?, ?)`
		args = append(args, at, c[1])
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY at DESC, user_id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", wrap("likes", err)
	}
	defer rows.Close()
	var out []post.Engagement
	for rows.Next() {
		var e post.Engagement
		var at int64
		if err := rows.Scan(&e.UserID, &at); err != nil {
			return nil, "", wrap("likes", err)
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("likes", err)
	}
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		return out, post.EncodeCursor(strconv.FormatInt(last.At.UnixNano(), 10), last.UserID), nil
	}
	return out, "", nil
}

// Counts counts likes, comments and reposts of the existing posts among ids.
func (s *Store) Counts(ctx context.Context, ids []string) (map[string]post.Counts, error) {
	out := make(map[string]post.Counts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT p.id,
	(SELECT count(*) FROM post_likes WHERE post_id = p.id),
	(SELECT count(*) FROM post_comments WHERE post_id = p.id),
	(SELECT count(*) FROM post_reposts WHERE post_id = p.id)
FROM posts p WHERE p.id IN (`+marks(len(ids))+`)`, anys(ids)...)
	if err != nil {
		return nil, wrap("counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c post.Counts
		if err := rows.Scan(&id, &c.Likes, &c.Comments, &c.Reposts); err != nil {
			return nil, wrap("counts", err)
		}
		out[id] = c
	}
	return out, wrap("counts", rows.Err())
}

// Viewer reports the viewer's likes and reposts among ids.
func (s *Store) Viewer(ctx context.Context, viewer string, ids []string) (map[string]post.ViewerState, error) {
	out := make(map[string]post.ViewerState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := append([]any{viewer}, anys(ids)...)
	args = append(append(args, viewer), anys(ids)...)
	rows, err := s.db.QueryContext(ctx, `SELECT post_id, 'like' FROM post_likes WHERE user_id = ? AND post_id IN (`+marks(len(ids))+`)
UNION ALL SELECT post_id, 'repost' FROM post_reposts WHERE user_id = ? AND post_id IN (`+marks(len(ids))+`)`, args...)
	if err != nil {
		return nil, wrap("viewer", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return nil, wrap("viewer", err)
		}
		v := out[id]
		if kind == "like" {
			v.Liked = true
		} else {
			v.Reposted = true
		}
		out[id] = v
	}
	return out, wrap("viewer", rows.Err())
}

// AddComment stores a comment (the same ID again is a no-op).
func (s *Store) AddComment(ctx context.Context, c post.Comment) error {
	return wrap("add comment", s.db.Write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM posts WHERE id = ?`, c.PostID).Scan(&one)
		if c.ParentID != "" && err == nil {
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM post_comments WHERE id = ? AND post_id = ? AND parent_id = ''`, c.ParentID, c.PostID).Scan(&one)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO post_comments (id, post_id, author_id, parent_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.ID, c.PostID, c.AuthorID, c.ParentID, c.Text, c.CreatedAt.UnixNano())
		return err
	}))
}

const commentColumns = "id, post_id, author_id, parent_id, text, created_at"

func scanComment(row scanner) (post.Comment, error) {
	var c post.Comment
	var at int64
	if err := row.Scan(&c.ID, &c.PostID, &c.AuthorID, &c.ParentID, &c.Text, &at); err != nil {
		return c, err
	}
	c.CreatedAt = time.Unix(0, at).UTC()
	return c, nil
}

// GetComment returns a comment.
func (s *Store) GetComment(ctx context.Context, id string) (post.Comment, error) {
	c, err := scanComment(s.db.QueryRowContext(ctx, `SELECT `+commentColumns+` FROM post_comments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, wrap("get comment", storage.ErrNotFound)
	}
	return c, wrap("get comment", err)
}

// DeleteComment removes a comment and its replies.
func (s *Store) DeleteComment(ctx context.Context, id string) (bool, error) {
	deleted := false
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM post_comments WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		deleted = true
		_, err = tx.ExecContext(ctx, `DELETE FROM post_comments WHERE parent_id = ?`, id)
		return err
	})
	return deleted, wrap("delete comment", err)
}

// Comments lists a post's comments, oldest first.
func (s *Store) Comments(ctx context.Context, postID, cursor string, limit int) ([]post.Comment, string, error) {
	c, err := post.DecodeCursor(cursor, 1)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + commentColumns + ` FROM post_comments WHERE post_id = ?`
	args := []any{postID}
	if c != nil {
		q += ` AND id > ?`
		args = append(args, c[0])
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", wrap("comments", err)
	}
	defer rows.Close()
	var out []post.Comment
	for rows.Next() {
		cm, err := scanComment(rows)
		if err != nil {
			return nil, "", wrap("comments", err)
		}
		out = append(out, cm)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("comments", err)
	}
	if len(out) > limit {
		out = out[:limit]
		return out, post.EncodeCursor(out[limit-1].ID), nil
	}
	return out, "", nil
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anys(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("posts: %s: %w", op, err)
}

// ---- scans ----

// ScanPosts pages through the posts by ID; the cursor holds the last ID.
func (s *Store) ScanPosts(ctx context.Context, cursor string, limit int) ([]post.Post, string, error) {
	after, err := scanStart(cursor, 1, limit)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM posts WHERE id > ? ORDER BY id LIMIT ?`, after[0], limit)
	if err != nil {
		return nil, "", wrap("scan posts", err)
	}
	defer rows.Close()
	var out []post.Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, "", wrap("scan posts", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("scan posts", err)
	}
	if len(out) < limit {
		return out, "", nil
	}
	return out, post.EncodeCursor(out[len(out)-1].ID), nil
}

// ScanEngagement pages through the likes, then the reposts, each by (post,
// user); the cursor holds the verb and the last pair.
func (s *Store) ScanEngagement(ctx context.Context, cursor string, limit int) ([]post.EngagementRow, string, error) {
	after, err := scanStart(cursor, 3, limit)
	if err != nil {
		return nil, "", err
	}
	verb, table, tag := post.Like, "post_likes", "l"
	if after[0] == "r" {
		verb, table, tag = post.Repost, "post_reposts", "r"
	}
	from, user := strings.TrimPrefix(after[1], "."), strings.TrimPrefix(after[2], ".")
	rows, err := s.db.QueryContext(ctx, `SELECT post_id, user_id, at FROM `+table+` WHERE (post_id, user_id) > (?, ?)
ORDER BY post_id, user_id LIMIT ?`, from, user, limit)
	if err != nil {
		return nil, "", wrap("scan engagement", err)
	}
	defer rows.Close()
	var out []post.EngagementRow
	for rows.Next() {
		e := post.EngagementRow{Verb: verb}
		var at int64
		if err := rows.Scan(&e.PostID, &e.UserID, &at); err != nil {
			return nil, "", wrap("scan engagement", err)
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("scan engagement", err)
	}
	switch {
	case len(out) == limit:
		last := out[len(out)-1]
		return out, post.EncodeCursor(tag, "."+last.PostID, "."+last.UserID), nil
	case verb == post.Like: // the likes are done: the reposts next
		return out, post.EncodeCursor("r", ".", "."), nil
	}
	return out, "", nil
}

// ScanComments pages through the comments by ID; the cursor holds the last ID.
func (s *Store) ScanComments(ctx context.Context, cursor string, limit int) ([]post.Comment, string, error) {
	after, err := scanStart(cursor, 1, limit)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+commentColumns+` FROM post_comments WHERE id > ? ORDER BY id LIMIT ?`, after[0], limit)
	if err != nil {
		return nil, "", wrap("scan comments", err)
	}
	defer rows.Close()
	var out []post.Comment
	for rows.Next() {
		c, err := scanComment(rows)
		if err != nil {
			return nil, "", wrap("scan comments", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("scan comments", err)
	}
	if len(out) < limit {
		return out, "", nil
	}
	return out, post.EncodeCursor(out[len(out)-1].ID), nil
}

// scanStart decodes a scan cursor of n parts ("" parts for the first page)
// and checks the limit.
func scanStart(cursor string, n, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("posts: scan limit %d must be positive", limit)
	}
	parts, err := post.DecodeCursor(cursor, n)
	if err != nil {
		return nil, err
	}
	if parts == nil {
		parts = make([]string, n)
	}
	return parts, nil
}

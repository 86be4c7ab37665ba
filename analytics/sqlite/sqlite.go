// Package sqlite implements the analytics store port on SQLite (embedded
// profile). One events table keyed by event ID (a repeated ID is ignored on
// insert) and a hashtag table; the embedded profile's volumes let every
// question be answered from the raw rows through indexes, without
// aggregates. Times are stored as fixed-width UTC text
// (2006-01-02T15:04:05.000000000Z), so text order is time order and the
// first ten characters are the day.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ejazz/ejazz/analytics"
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the analytics store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ analytics.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: analytics.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "events", Statements: []string{
		`CREATE TABLE IF NOT EXISTS events (
	event_id TEXT PRIMARY KEY,
	kind     TEXT NOT NULL,
	user_id  TEXT NOT NULL,
	post_id  TEXT NOT NULL DEFAULT '',
	at       TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS events_kind_at ON events (kind, at)",
	}},
	{Version: 2, Name: "subjects, media, hashtags and query indexes", Statements: []string{
		"ALTER TABLE events ADD COLUMN subject_id TEXT NOT NULL DEFAULT ''",
		"ALTER TABLE events ADD COLUMN media_id TEXT NOT NULL DEFAULT ''",
		"ALTER TABLE events ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0",
		"CREATE INDEX IF NOT EXISTS events_at ON events (at, user_id)",
		"CREATE INDEX IF NOT EXISTS events_post ON events (post_id, kind, at)",
		"CREATE INDEX IF NOT EXISTS events_subject ON events (subject_id, kind, at)",
		`CREATE TABLE IF NOT EXISTS event_hashtags (
	event_id TEXT NOT NULL,
	tag      TEXT NOT NULL,
	post_id  TEXT NOT NULL,
	at       TEXT NOT NULL,
	PRIMARY KEY (event_id, tag)
)`,
		"CREATE INDEX IF NOT EXISTS event_hashtags_at ON event_hashtags (at, tag)",
	}},
}

// timeLayout is fixed-width, so text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseDay(s string) (analytics.Day, error) {
	return time.Parse("2006-01-02", s)
}

// Insert stores events in one transaction; known IDs are ignored.
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e.ID == "" {
			return fmt.Errorf("analytics: event %d (%s) has no ID", i, e.Kind)
		}
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO events (event_id, kind, user_id, subject_id, post_id, media_id, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		var tag *sql.Stmt
		for _, e := range events {
			at := ts(e.At)
			if _, err := ins.ExecContext(ctx, e.ID, string(e.Kind), e.ActorID, e.SubjectID, e.PostID, e.MediaID, max(e.Bytes, 0), at); err != nil {
				return fmt.Errorf("analytics: insert %s: %w", e.ID, err)
			}
			if e.Kind != event.PostCreated || e.Hashtags == "" {
				continue
			}
			if tag == nil {
				if tag, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO event_hashtags (event_id, tag, post_id, at) VALUES (?, ?, ?, ?)`); err != nil {
					return err
				}
				defer tag.Close()
			}
			for _, h := range strings.Fields(e.Hashtags) {
				if _, err := tag.ExecContext(ctx, e.ID, h, e.PostID, at); err != nil {
					return fmt.Errorf("analytics: insert hashtag %s: %w", e.ID, err)
				}
			}
		}
		return nil
	})
}

// DailyActiveUsers counts distinct actors per day.
func (s *Store) DailyActiveUsers(ctx context.Context, from, to analytics.Day) ([]analytics.DayCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT substr(at, 1, 10) AS d, COUNT(DISTINCT user_id) FROM events
WHERE at >= ? AND at < ? AND user_id != '' GROUP BY d ORDER BY d`, ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("analytics: dau: %w", err)
	}
	defer rows.Close()
	var out []analytics.DayCount
	for rows.Next() {
		var d string
		var n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		day, err := parseDay(d)
		if err != nil {
			return nil, err
		}
		out = append(out, analytics.DayCount{Day: day, N: n})
	}
	return out, rows.Err()
}

type kindCount struct {
	day  analytics.Day
	kind event.Kind
	n    int64
}

func (s *Store) kindCounts(ctx context.Context, what, query string, args ...any) ([]kindCount, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: %s: %w", what, err)
	}
	defer rows.Close()
	var out []kindCount
	for rows.Next() {
		var d, kind string
		var n int64
		if err := rows.Scan(&d, &kind, &n); err != nil {
			return nil, err
		}
		day, err := parseDay(d)
		if err != nil {
			return nil, err
		}
		out = append(out, kindCount{day: day, kind: event.Kind(kind), n: n})
	}
	return out, rows.Err()
}

var engagementKinds = func() string {
	var q []string
	for _, k := range analytics.EngagementKinds {
		q = append(q, "'"+string(k)+"'")
	}
	return strings.Join(q, ", ")
}()

// PostEngagement counts a post's engagement per day and kind.
func (s *Store) PostEngagement(ctx context.Context, postID string) ([]analytics.EngagementDay, error) {
	kcs, err := s.kindCounts(ctx, "post engagement", `SELECT substr(at, 1, 10) AS d, kind, COUNT(*) FROM events
WHERE post_id = ? AND kind IN (`+engagementKinds+`) GROUP BY d, kind ORDER BY d, kind`, postID)
	if err != nil {
		return nil, err
	}
	var out []analytics.EngagementDay
	for _, kc := range kcs {
		if len(out) == 0 || !out[len(out)-1].Day.Equal(kc.day) {
			out = append(out, analytics.EngagementDay{Day: kc.day})
		}
		d := &out[len(out)-1]
		switch kc.kind {
		case event.Liked:
			d.Likes += kc.n
		case event.Unliked:
			d.Likes -= kc.n
		case event.Commented:
			d.Comments += kc.n
		case event.Reposted:
			d.Reposts += kc.n
		case event.RepostUndone:
			d.Reposts -= kc.n
		}
	}
	return out, nil
}

// FollowerGrowth counts follows and unfollows of userID per day.
func (s *Store) FollowerGrowth(ctx context.Context, userID string, from, to analytics.Day) (int64, []analytics.GrowthDay, error) {
	var base int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(CASE kind WHEN 'follow' THEN 1 ELSE -1 END), 0) FROM events
WHERE subject_id = ? AND kind IN ('follow', 'unfollow') AND at < ?`, userID, ts(from)).Scan(&base)
	if err != nil {
		return 0, nil, fmt.Errorf("analytics: follower base: %w", err)
	}
	kcs, err := s.kindCounts(ctx, "follower growth", `SELECT substr(at, 1, 10) AS d, kind, COUNT(*) FROM events
WHERE subject_id = ? AND kind IN ('follow', 'unfollow') AND at >= ? AND at < ? GROUP BY d, kind ORDER BY d, kind`, userID, ts(from), ts(to))
	if err != nil {
		return 0, nil, err
	}
	var out []analytics.GrowthDay
	for _, kc := range kcs {
		if len(out) == 0 || !out[len(out)-1].Day.Equal(kc.day) {
			out = append(out, analytics.GrowthDay{Day: kc.day})
		}
		if kc.kind == event.Followed {
			out[len(out)-1].Gained += kc.n
		} else {
			out[len(out)-1].Lost += kc.n
		}
	}
	return base, out, nil
}

// MediaUploads counts upload events and sums their bytes per day.
func (s *Store) MediaUploads(ctx context.Context, from, to analytics.Day) ([]analytics.UploadDay, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT substr(at, 1, 10) AS d, COUNT(*), COALESCE(SUM(bytes), 0) FROM events
WHERE kind = ? AND at >= ? AND at < ? GROUP BY d ORDER BY d`, string(event.MediaUploaded), ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("analytics: media uploads: %w", err)
	}
	defer rows.Close()
	var out []analytics.UploadDay
	for rows.Next() {
		var d string
		var p analytics.UploadDay
		if err := rows.Scan(&d, &p.Uploads, &p.Bytes); err != nil {
			return nil, err
		}
		if p.Day, err = parseDay(d); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// TopPosts reads the engagement events since q.Since and scores them in Go.
func (s *Store) TopPosts(ctx context.Context, q analytics.TopQuery) ([]analytics.PostScore, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT post_id, kind, substr(at, 1, 13), COUNT(*) FROM events
WHERE kind IN (`+engagementKinds+`) AND at >= ? AND post_id != '' GROUP BY post_id, kind, substr(at, 1, 13)`, ts(q.Since.Truncate(time.Second)))
	if err != nil {
		return nil, fmt.Errorf("analytics: top posts: %w", err)
	}
	defer rows.Close()
	by := map[string]*analytics.PostScore{}
	for rows.Next() {
		var id, kind, hour string
		var n int64
		if err := rows.Scan(&id, &kind, &hour, &n); err != nil {
			return nil, err
		}
		h, err := time.Parse("2006-01-02T15", hour)
		if err != nil {
			return nil, err
		}
		p := by[id]
		if p == nil {
			p = &analytics.PostScore{PostID: id}
			by[id] = p
		}
		k := event.Kind(kind)
		p.Score += analytics.Weight(k) * float64(n) * analytics.Decay(q.Now.Sub(h), q.HalfLife)
		switch k {
		case event.Liked:
			p.Likes += n
		case event.Unliked:
			p.Likes -= n
		case event.Commented:
			p.Comments += n
		case event.Reposted:
			p.Reposts += n
		case event.RepostUndone:
			p.Reposts -= n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]analytics.PostScore, 0, len(by))
	for _, p := range by {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].PostID < out[j].PostID
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// TrendingHashtags counts distinct posts per hashtag from since's hour on.
func (s *Store) TrendingHashtags(ctx context.Context, since time.Time, limit int) ([]analytics.TagCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tag, COUNT(DISTINCT post_id) AS n FROM event_hashtags
WHERE at >= ? GROUP BY tag ORDER BY n DESC, tag LIMIT ?`, ts(since.UTC().Truncate(time.Hour)), limit)
	if err != nil {
		return nil, fmt.Errorf("analytics: trending hashtags: %w", err)
	}
	defer rows.Close()
	var out []analytics.TagCount
	for rows.Next() {
		var t analytics.TagCount
		if err := rows.Scan(&t.Tag, &t.Posts); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Package clickhouse implements the analytics store port on ClickHouse (scale profile).
//
// Schema (migration 2): raw_events holds every event (ReplacingMergeTree,
// partitioned by month, ordered by kind and time for the range scans), and
// materialized views keep one aggregate per question, so dashboard queries
// read a few thousand pre-aggregated rows instead of millions of events:
//
//	dau_daily        day → uniqState(actor)                       GetDailyActiveUsers
//	post_daily       (post, day, kind) → uniqExactState(event)    GetPostEngagement
//	post_hourly      (hour, post, kind) → uniqExactState(event)   GetTopPosts, trending
//	follower_daily   (user, day, kind) → uniqExactState(event)    GetFollowerGrowth
//	media_daily      (day, event) → bytes, ReplacingMergeTree     GetMediaUploads
//	hashtag_hourly   (hour, tag) → uniqExactState(post)           trending hashtags
//
// Dedup on read: counts are distinct event-ID hashes (sipHash64), so an
// event inserted twice counts once whether or not its parts have merged;
// media bytes are summed over distinct events by the query.
//
// Everything here runs on ClickHouse 18.16 (CI) and current releases:
// inserts are batches with an explicit column list, no DateTime64, no
// Nullable, no ADD COLUMN IF NOT EXISTS.
package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ejazz/ejazz/analytics"
	engine "github.com/ejazz/ejazz/internal/engine/clickhouse"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the analytics store on ClickHouse.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ analytics.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: analytics.Component, EngineName: "clickhouse", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// engagementKinds is the SQL list of analytics.EngagementKinds.
var engagementKinds = func() string {
	var q []string
	for _, k := range analytics.EngagementKinds {
		q = append(q, "'"+string(k)+"'")
	}
	return strings.Join(q, ", ")
}()

// weightSQL is analytics.Weight as an SQL expression of kind.
var weightSQL = func() string {
	var parts []string
	for _, k := range analytics.EngagementKinds {
		parts = append(parts, fmt.Sprintf("kind = '%s', %g", k, analytics.Weight(k)))
	}
	return "multiIf(" + strings.Join(parts, ", ") + ", 0)"
}()

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "events", Statements: []string{
		`CREATE TABLE IF NOT EXISTS events (
	event_id String,
	kind     String,
	user_id  String,
	post_id  String,
	at       DateTime
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (kind, at, event_id)`,
	}},
	{Version: 2, Name: "raw events and aggregates", Statements: []string{
		// 18.16 has no ADD COLUMN IF NOT EXISTS, so the wider raw table is new
		// (version 1's placeholder is copied over and dropped below).
		`CREATE TABLE IF NOT EXISTS raw_events (
	event_id   String,
	kind       String,
	user_id    String,
	subject_id String,
	post_id    String,
	media_id   String,
	bytes      UInt64,
	hashtags   Array(String),
	at         DateTime
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (kind, at, event_id)`,
		`CREATE TABLE IF NOT EXISTS dau_daily (
	day   Date,
	users AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY day`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS dau_daily_mv TO dau_daily AS
SELECT toDate(at) AS day, uniqState(user_id) AS users
FROM raw_events WHERE user_id != '' GROUP BY day`,
		`CREATE TABLE IF NOT EXISTS post_daily (
	post_id String,
	day     Date,
	kind    String,
	n       AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (post_id, day, kind)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS post_daily_mv TO post_daily AS
SELECT post_id, toDate(at) AS day, kind, uniqExactState(sipHash64(event_id)) AS n
FROM raw_events WHERE post_id != '' AND kind IN (` + engagementKinds + `) GROUP BY post_id, day, kind`,
		`CREATE TABLE IF NOT EXISTS post_hourly (
	hour    DateTime,
	post_id String,
	kind    String,
	n       AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY (hour, post_id, kind)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS post_hourly_mv TO post_hourly AS
SELECT toStartOfHour(at) AS hour, post_id, kind, uniqExactState(sipHash64(event_id)) AS n
FROM raw_events WHERE post_id != '' AND kind IN (` + engagementKinds + `) GROUP BY hour, post_id, kind`,
		`CREATE TABLE IF NOT EXISTS follower_daily (
	user_id String,
	day     Date,
	kind    String,
	n       AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (user_id, day, kind)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS follower_daily_mv TO follower_daily AS
SELECT subject_id AS user_id, toDate(at) AS day, kind, uniqExactState(sipHash64(event_id)) AS n
FROM raw_events WHERE subject_id != '' AND kind IN ('follow', 'unfollow') GROUP BY user_id, day, kind`,
		`CREATE TABLE IF NOT EXISTS media_daily (
	day       Date,
	event_key UInt64,
	bytes     UInt64
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (day, event_key)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS media_daily_mv TO media_daily AS
SELECT toDate(at) AS day, sipHash64(event_id) AS event_key, bytes
FROM raw_events WHERE kind = 'media_upload'`,
		`CREATE TABLE IF NOT EXISTS hashtag_hourly (
	hour  DateTime,
	tag   String,
	posts AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY (hour, tag)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS hashtag_hourly_mv TO hashtag_hourly AS
SELECT toStartOfHour(at) AS hour, tag, uniqExactState(sipHash64(post_id)) AS posts
FROM raw_events ARRAY JOIN hashtags AS tag WHERE kind = 'post' GROUP BY hour, tag`,
		// Re-running the copy after a partial failure only adds duplicates,
		// which every figure ignores.
		`INSERT INTO raw_events (event_id, kind, user_id, post_id, at) SELECT event_id, kind, user_id, post_id, at FROM events`,
		`DROP TABLE IF EXISTS events`,
	}},
}

// Insert appends events to raw_events in one batch (column-wise).
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	ids, kinds, users, subjects, posts, medias := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bytes, tags, ats := make([]uint64, n), make([][]string, n), make([]time.Time, n)
	for i, e := range events {
		if e.ID == "" {
			return fmt.Errorf("analytics: event %d (%s) has no ID", i, e.Kind)
		}
		ids[i], kinds[i], users[i], subjects[i], posts[i], medias[i] = e.ID, string(e.Kind), e.ActorID, e.SubjectID, e.PostID, e.MediaID
		bytes[i] = uint64(max(e.Bytes, 0))
		tags[i] = strings.Fields(e.Hashtags)
		if tags[i] == nil {
			tags[i] = []string{}
		}
		ats[i] = e.At.UTC()
	}
	b, err := s.db.Conn.PrepareBatch(ctx, `INSERT INTO raw_events (event_id, kind, user_id, subject_id, post_id, media_id, bytes, hashtags, at)`)
	if err != nil {
		return fmt.Errorf("analytics: prepare insert: %w", err)
	}
	for i, col := range []any{ids, kinds, users, subjects, posts, medias, bytes, tags, ats} {
		if err := b.Column(i).Append(col); err != nil {
			_ = b.Abort()
			return fmt.Errorf("analytics: insert column %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("analytics: insert %d events: %w", n, err)
	}
	return nil
}

// day formats a day for toDate(?).
func day(d analytics.Day) string { return d.UTC().Format("2006-01-02") }

// DailyActiveUsers reads dau_daily.
func (s *Store) DailyActiveUsers(ctx context.Context, from, to analytics.Day) ([]analytics.DayCount, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT day, uniqMerge(users) FROM dau_daily
WHERE day >= toDate(?) AND day < toDate(?) GROUP BY day ORDER BY day`, day(from), day(to))
	if err != nil {
		return nil, fmt.Errorf("analytics: dau: %w", err)
	}
	defer rows.Close()
	var out []analytics.DayCount
	for rows.Next() {
		var d time.Time
		var n uint64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out = append(out, analytics.DayCount{Day: analytics.Floor(d), N: int64(n)})
	}
	return out, rows.Err()
}

// kindCounts is a scan of (day, kind, count) rows.
type kindCount struct {
	day  analytics.Day
	kind event.Kind
	n    int64
}

func (s *Store) kindCounts(ctx context.Context, what, query string, args ...any) ([]kindCount, error) {
	rows, err := s.db.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: %s: %w", what, err)
	}
	defer rows.Close()
	var out []kindCount
	for rows.Next() {
		var d time.Time
		var kind string
		var n uint64
		if err := rows.Scan(&d, &kind, &n); err != nil {
			return nil, err
		}
		out = append(out, kindCount{day: analytics.Floor(d), kind: event.Kind(kind), n: int64(n)})
	}
	return out, rows.Err()
}

// PostEngagement reads post_daily.
func (s *Store) PostEngagement(ctx context.Context, postID string) ([]analytics.EngagementDay, error) {
	kcs, err := s.kindCounts(ctx, "post engagement", `SELECT day, kind, uniqExactMerge(n) FROM post_daily
WHERE post_id = ? GROUP BY day, kind ORDER BY day, kind`, postID)
	if err != nil {
		return nil, err
	}
	var out []analytics.EngagementDay
	for _, kc := range kcs {
		if len(out) == 0 || !out[len(out)-1].Day.Equal(kc.day) {
			out = append(out, analytics.EngagementDay{Day: kc.day})
		}
		addEngagement(&out[len(out)-1], kc.kind, kc.n)
	}
	return out, nil
}

func addEngagement(d *analytics.EngagementDay, kind event.Kind, n int64) {
	switch kind {
	case event.Liked:
		d.Likes += n
	case event.Unliked:
		d.Likes -= n
	case event.Commented:
		d.Comments += n
	case event.Reposted:
		d.Reposts += n
	case event.RepostUndone:
		d.Reposts -= n
	}
}

// FollowerGrowth reads follower_daily.
func (s *Store) FollowerGrowth(ctx context.Context, userID string, from, to analytics.Day) (int64, []analytics.GrowthDay, error) {
	var base int64
	err := s.db.Conn.QueryRow(ctx, `SELECT toInt64(sumIf(n, kind = 'follow')) - toInt64(sumIf(n, kind = 'unfollow')) FROM (
	SELECT kind, uniqExactMerge(n) AS n FROM follower_daily WHERE user_id = ? AND day < toDate(?) GROUP BY kind)`, userID, day(from)).Scan(&base)
	if err != nil {
		return 0, nil, fmt.Errorf("analytics: follower base: %w", err)
	}
	kcs, err := s.kindCounts(ctx, "follower growth", `SELECT day, kind, uniqExactMerge(n) FROM follower_daily
WHERE user_id = ? AND day >= toDate(?) AND day < toDate(?) GROUP BY day, kind ORDER BY day, kind`, userID, day(from), day(to))
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

// MediaUploads reads media_daily, one row per distinct upload event.
func (s *Store) MediaUploads(ctx context.Context, from, to analytics.Day) ([]analytics.UploadDay, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT day, count(), sum(b) FROM (
	SELECT day, event_key, any(bytes) AS b FROM media_daily
	WHERE day >= toDate(?) AND day < toDate(?) GROUP BY day, event_key)
GROUP BY day ORDER BY day`, day(from), day(to))
	if err != nil {
		return nil, fmt.Errorf("analytics: media uploads: %w", err)
	}
	defer rows.Close()
	var out []analytics.UploadDay
	for rows.Next() {
		var d time.Time
		var n, b uint64
		if err := rows.Scan(&d, &n, &b); err != nil {
			return nil, err
		}
		out = append(out, analytics.UploadDay{Day: analytics.Floor(d), Uploads: int64(n), Bytes: int64(b)})
	}
	return out, rows.Err()
}

// TopPosts scores whole hours from post_hourly and the partial first hour
// (since up to the next full hour) from raw_events; an event's age counts
// from the start of its hour, as in every adapter.
func (s *Store) TopPosts(ctx context.Context, q analytics.TopQuery) ([]analytics.PostScore, error) {
	since := q.Since.UTC().Truncate(time.Second)
	firstFull := since.Truncate(time.Hour)
	if firstFull.Before(since) {
		firstFull = firstFull.Add(time.Hour)
	}
	halfLife := q.HalfLife.Seconds()
	if halfLife <= 0 {
		halfLife = 1e18 // no decay
	}
	rows, err := s.db.Conn.Query(ctx, `SELECT post_id,
	sum(`+weightSQL+` * n * exp2(-greatest(toInt64(?) - toInt64(toUInt32(hour)), 0) / ?)) AS score,
	toInt64(sumIf(n, kind = 'like')) - toInt64(sumIf(n, kind = 'unlike')) AS likes,
	toInt64(sumIf(n, kind = 'comment')) AS comments,
	toInt64(sumIf(n, kind = 'repost')) - toInt64(sumIf(n, kind = 'unrepost')) AS reposts
FROM (
	SELECT post_id, hour, kind, uniqExactMerge(n) AS n FROM post_hourly
	WHERE hour >= toDateTime(?) GROUP BY post_id, hour, kind
	UNION ALL
	SELECT post_id, toStartOfHour(at) AS hour, kind, uniqExact(event_id) AS n FROM raw_events
	WHERE kind IN (`+engagementKinds+`) AND post_id != '' AND at >= toDateTime(?) AND at < toDateTime(?)
	GROUP BY post_id, hour, kind)
GROUP BY post_id ORDER BY score DESC, post_id LIMIT ?`,
		q.Now.Unix(), halfLife, firstFull.Unix(), since.Unix(), firstFull.Unix(), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("analytics: top posts: %w", err)
	}
	defer rows.Close()
	var out []analytics.PostScore
	for rows.Next() {
		var p analytics.PostScore
		if err := rows.Scan(&p.PostID, &p.Score, &p.Likes, &p.Comments, &p.Reposts); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// TrendingHashtags reads hashtag_hourly from since's hour on.
func (s *Store) TrendingHashtags(ctx context.Context, since time.Time, limit int) ([]analytics.TagCount, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT tag, uniqExactMerge(posts) AS n FROM hashtag_hourly
WHERE hour >= toDateTime(?) GROUP BY tag ORDER BY n DESC, tag LIMIT ?`, since.UTC().Truncate(time.Hour).Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("analytics: trending hashtags: %w", err)
	}
	defer rows.Close()
	var out []analytics.TagCount
	for rows.Next() {
		var t analytics.TagCount
		var n uint64
		if err := rows.Scan(&t.Tag, &n); err != nil {
			return nil, err
		}
		t.Posts = int64(n)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Package clickhouse implements the analytics store port on ClickHouse (scale profile).
//
// Dedup stage: Insert writes only the events raw_events does not hold yet.
// It looks the batch up first — by (kind, at, event_id), the table's sort
// key, so a lookup reads the few granules around the batch's times; kinds
// whose ID does not depend on the time (media uploads, sign-ups) by ID in
// the small once_events index — and inserts the rest. Every aggregate can
// then count rows instead of keeping sets of event IDs. Exactly once needs
// more than that, and ClickHouse gives no unique key, no transaction and,
// for non-replicated tables on 18.16, no insert deduplication, so:
//   - inserts of one process are serialized (a check and its insert never
//     interleave with another batch of the same process);
//   - an insert runs under a query ID derived from the batch's event IDs,
//     and Insert first waits until no query with that ID is running: a
//     batch whose earlier attempt failed on the client side (cut
//     connection, timeout) while the server went on is replayed only once
//     that attempt is over, so the lookup sees what it wrote;
//   - what remains is two processes inserting the same event within the
//     same few milliseconds (a retried CreatePost reaching another replica
//     while the first one's batch is in flight), which counts it twice.
//
// Schema (migration 3; 2 is the released dedup-on-read one it replaces):
// raw_events holds every event (ReplacingMergeTree, partitioned by month,
// ordered by kind and time), and materialized views keep one small
// aggregate per question:
//
//	users_daily        day → uniqCombined(16) state of the actors   GetDailyActiveUsers
//	engagement_daily   (post, day) → like/unlike/comment/… counts   GetPostEngagement
//	engagement_hourly  (hour, post hash) → the same counts          GetTopPosts, trending
//	follows_daily      (user, day) → follows gained and lost        GetFollowerGrowth
//	uploads_daily      day → uploads and bytes                      GetMediaUploads
//	hashtags_hourly    (hour, tag) → posts                          trending hashtags
//	once_events        (kind, event) of uploads and sign-ups        the dedup stage
//
// Counts are SummingMergeTree columns; daily active users, a distinct
// count that duplicates cannot inflate, is a HyperLogLog-backed
// uniqCombined(16) state: exact up to about 4,000 users a day, within 1%
// above that. TopPosts keeps the ranking of the closed hours of its recent
// windows in memory (top.go).
//
// Everything here runs on ClickHouse 18.16 (CI) and current releases:
// inserts are batches with an explicit column list, no DateTime64, no
// Nullable, no ADD COLUMN IF NOT EXISTS.
package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/ejazz/ejazz/analytics"
	engine "github.com/ejazz/ejazz/internal/engine/clickhouse"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the analytics store on ClickHouse.
type Store struct {
	storage.Component
	db *engine.DB
	// mu serializes the dedup stage's lookup and insert within the process.
	mu sync.Mutex
	// top keeps the closed hours of recent TopPosts windows (top.go).
	top topCache
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
	{Version: 3, Name: "dedup stage and counting aggregates", Statements: slices.Concat(
		// The new tables, filled from raw_events once (each copy only into an
		// empty table, so re-running after a later statement failed copies
		// nothing twice), then fed by their views. Events inserted between a
		// copy and its view's creation would be missed: migrate with the
		// ingesters stopped.
		v3Tables, v3Copies, v3Views,
		// Version 2's aggregates (sets of event-ID hashes) are replaced.
		[]string{
			`DROP TABLE IF EXISTS dau_daily_mv`, `DROP TABLE IF EXISTS post_daily_mv`, `DROP TABLE IF EXISTS post_hourly_mv`,
			`DROP TABLE IF EXISTS follower_daily_mv`, `DROP TABLE IF EXISTS media_daily_mv`, `DROP TABLE IF EXISTS hashtag_hourly_mv`,
			`DROP TABLE IF EXISTS dau_daily`, `DROP TABLE IF EXISTS post_daily`, `DROP TABLE IF EXISTS post_hourly`,
			`DROP TABLE IF EXISTS follower_daily`, `DROP TABLE IF EXISTS media_daily`, `DROP TABLE IF EXISTS hashtag_hourly`,
		})},
}

// onceKinds are the kinds whose event IDs do not depend on the time
// (event.NewMedia, event.NewOnce): the dedup stage finds them by ID.
var onceKinds = []event.Kind{event.MediaUploaded, event.SignedUp}

var onceKindsSQL = func() string {
	var q []string
	for _, k := range onceKinds {
		q = append(q, "'"+string(k)+"'")
	}
	return strings.Join(q, ", ")
}()

// engagementCounts are the per-kind count columns of engagement_daily and
// engagement_hourly, as SELECT expressions over raw_events.
var engagementCounts = `countIf(kind = 'like') AS likes, countIf(kind = 'unlike') AS unlikes, countIf(kind = 'comment') AS comments,
	countIf(kind = 'repost') AS reposts, countIf(kind = 'unrepost') AS unreposts`

// engagementRow is engagementCounts for one event (the copies insert one
// row per event and let the table sum them).
var engagementRow = `toUInt64(kind = 'like') AS likes, toUInt64(kind = 'unlike') AS unlikes, toUInt64(kind = 'comment') AS comments,
	toUInt64(kind = 'repost') AS reposts, toUInt64(kind = 'unrepost') AS unreposts`

var v3Tables = []string{
	`CREATE TABLE IF NOT EXISTS once_events (
	kind     String,
	event_id String,
	at       DateTime
) ENGINE = ReplacingMergeTree ORDER BY (kind, event_id)`,
	`CREATE TABLE IF NOT EXISTS users_daily (
	day   Date,
	users AggregateFunction(uniqCombined(16), String)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY day`,
	`CREATE TABLE IF NOT EXISTS engagement_daily (
	post_id   String,
	day       Date,
	likes     UInt64,
	unlikes   UInt64,
	comments  UInt64,
	reposts   UInt64,
	unreposts UInt64
) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (post_id, day)`,
	// post_key (sipHash64 of post_id) keeps the top-posts aggregation on a
	// fixed-width key; post_id rides along (not summed, same for the key).
	// events counts the row's events: its sum over a range of hours changes
	// with every insert and with no merge (TopPosts' fingerprint).
	`CREATE TABLE IF NOT EXISTS engagement_hourly (
	hour      DateTime,
	post_key  UInt64,
	post_id   String,
	likes     UInt64,
	unlikes   UInt64,
	comments  UInt64,
	reposts   UInt64,
	unreposts UInt64,
	events    UInt64
) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY (hour, post_key)`,
	`CREATE TABLE IF NOT EXISTS follows_daily (
	user_id String,
	day     Date,
	gained  UInt64,
	lost    UInt64
) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (user_id, day)`,
	`CREATE TABLE IF NOT EXISTS uploads_daily (
	day     Date,
	uploads UInt64,
	bytes   UInt64
) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(day) ORDER BY day`,
	`CREATE TABLE IF NOT EXISTS hashtags_hourly (
	hour  DateTime,
	tag   String,
	posts UInt64
) ENGINE = SummingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY (hour, tag)`,
}

// v3Copies fill the new tables from raw_events, counting each event once:
// FINAL collapses copies of (kind, at, event_id); uploads, whose copies may
// differ in time, are grouped by ID.
var v3Copies = []string{
	`INSERT INTO once_events (kind, event_id, at) SELECT kind, event_id, at FROM raw_events
WHERE kind IN (` + onceKindsSQL + `) AND (SELECT count() FROM once_events) = 0`,
	`INSERT INTO users_daily (day, users) SELECT toDate(at) AS day, uniqCombinedState(16)(user_id) AS users FROM raw_events
WHERE user_id != '' AND (SELECT count() FROM users_daily) = 0 GROUP BY day`,
	`INSERT INTO engagement_daily (post_id, day, likes, unlikes, comments, reposts, unreposts)
SELECT post_id, toDate(at) AS day, ` + engagementRow + ` FROM raw_events FINAL
WHERE post_id != '' AND kind IN (` + engagementKinds + `) AND (SELECT count() FROM engagement_daily) = 0`,
	`INSERT INTO engagement_hourly (hour, post_key, post_id, likes, unlikes, comments, reposts, unreposts, events)
SELECT toStartOfHour(at) AS hour, sipHash64(post_id) AS post_key, post_id, ` + engagementRow + `, toUInt64(1) AS events FROM raw_events FINAL
WHERE post_id != '' AND kind IN (` + engagementKinds + `) AND (SELECT count() FROM engagement_hourly) = 0`,
	`INSERT INTO follows_daily (user_id, day, gained, lost)
SELECT subject_id AS user_id, toDate(at) AS day, toUInt64(kind = 'follow') AS gained, toUInt64(kind = 'unfollow') AS lost FROM raw_events FINAL
WHERE subject_id != '' AND kind IN ('follow', 'unfollow') AND (SELECT count() FROM follows_daily) = 0`,
	`INSERT INTO uploads_daily (day, uploads, bytes)
SELECT day, count() AS uploads, sum(b) AS bytes FROM (
	SELECT event_id, toDate(min(at)) AS day, any(bytes) AS b FROM raw_events
	WHERE kind = 'media_upload' AND (SELECT count() FROM uploads_daily) = 0 GROUP BY event_id)
GROUP BY day`,
	`INSERT INTO hashtags_hourly (hour, tag, posts)
SELECT toStartOfHour(at) AS hour, tag, toUInt64(1) AS posts FROM raw_events FINAL ARRAY JOIN hashtags AS tag
WHERE kind = 'post' AND (SELECT count() FROM hashtags_hourly) = 0`,
}

var v3Views = []string{
	`CREATE MATERIALIZED VIEW IF NOT EXISTS once_events_mv TO once_events AS
SELECT kind, event_id, at FROM raw_events WHERE kind IN (` + onceKindsSQL + `)`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS users_daily_mv TO users_daily AS
SELECT toDate(at) AS day, uniqCombinedState(16)(user_id) AS users FROM raw_events WHERE user_id != '' GROUP BY day`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS engagement_daily_mv TO engagement_daily AS
SELECT post_id, toDate(at) AS day, ` + engagementCounts + `
FROM raw_events WHERE post_id != '' AND kind IN (` + engagementKinds + `) GROUP BY post_id, day`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS engagement_hourly_mv TO engagement_hourly AS
SELECT toStartOfHour(at) AS hour, sipHash64(post_id) AS post_key, post_id, ` + engagementCounts + `, count() AS events
FROM raw_events WHERE post_id != '' AND kind IN (` + engagementKinds + `) GROUP BY hour, post_key, post_id`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS follows_daily_mv TO follows_daily AS
SELECT subject_id AS user_id, toDate(at) AS day, countIf(kind = 'follow') AS gained, countIf(kind = 'unfollow') AS lost
FROM raw_events WHERE subject_id != '' AND kind IN ('follow', 'unfollow') GROUP BY user_id, day`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS uploads_daily_mv TO uploads_daily AS
SELECT toDate(at) AS day, count() AS uploads, sum(bytes) AS bytes FROM raw_events WHERE kind = 'media_upload' GROUP BY day`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS hashtags_hourly_mv TO hashtags_hourly AS
SELECT toStartOfHour(at) AS hour, tag, count() AS posts FROM raw_events ARRAY JOIN hashtags AS tag WHERE kind = 'post' GROUP BY hour, tag`,
}

// Insert is the dedup stage (see the package comment): it drops repeated
// IDs within the batch, waits for an earlier attempt of the same batch to
// end, looks up which events raw_events already holds and appends the rest
// in one batch (column-wise).
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(events))
	batch := make([]event.Event, 0, len(events))
	for i, e := range events {
		if e.ID == "" {
			return fmt.Errorf("analytics: event %d (%s) has no ID", i, e.Kind)
		}
		if !seen[e.ID] {
			seen[e.ID] = true
			batch = append(batch, e)
		}
	}
	qid := batchQueryID(batch)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.awaitQuery(ctx, qid); err != nil {
		return err
	}
	stored, err := s.stored(ctx, batch)
	if err != nil {
		return err
	}
	fresh := batch[:0]
	for _, e := range batch {
		if !stored[e.ID] {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	return s.insert(ctx, qid, fresh)
}

// batchQueryID names a batch's insert after its event IDs, so a replay of
// the same batch (the spool keeps batches as they were) has the same ID.
func batchQueryID(batch []event.Event) string {
	h := sha256.New()
	for _, e := range batch {
		h.Write([]byte(e.ID))
		h.Write([]byte{0})
	}
	return "ejazz-analytics-insert-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// awaitQuery waits while a query with ID qid runs (an earlier attempt of
// this batch that the client gave up on).
func (s *Store) awaitQuery(ctx context.Context, qid string) error {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var running uint64
		if err := s.db.Conn.QueryRow(ctx, `SELECT count() FROM system.processes WHERE query_id = ?`, qid).Scan(&running); err != nil {
			return fmt.Errorf("analytics: check running inserts: %w", err)
		}
		if running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("analytics: an earlier insert of this batch is still running: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// stored returns the IDs of batch that raw_events already holds. The batch
// travels as an external table; (kind, at, event_id) is raw_events' sort
// key, so the lookup reads only the granules around the batch's times.
func (s *Store) stored(ctx context.Context, batch []event.Event) (map[string]bool, error) {
	tbl, err := ext.NewTable("batch", ext.Column("kind", "String"), ext.Column("at", "DateTime"), ext.Column("event_id", "String"))
	if err != nil {
		return nil, err
	}
	for _, e := range batch {
		if err := tbl.Append(string(e.Kind), e.At.UTC(), e.ID); err != nil {
			return nil, fmt.Errorf("analytics: lookup table: %w", err)
		}
	}
	rows, err := s.db.Conn.Query(ch.Context(ctx, ch.WithExternalTable(tbl)), `SELECT event_id FROM raw_events
WHERE (kind, at, event_id) IN (SELECT kind, at, event_id FROM batch)
UNION ALL
SELECT event_id FROM once_events
WHERE (kind, event_id) IN (SELECT kind, event_id FROM batch WHERE kind IN (`+onceKindsSQL+`))`)
	if err != nil {
		return nil, fmt.Errorf("analytics: look up %d events: %w", len(batch), err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// insert appends events to raw_events in one batch, as query qid.
func (s *Store) insert(ctx context.Context, qid string, events []event.Event) error {
	n := len(events)
	ids, kinds, users, subjects, posts, medias := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bytes, tags, ats := make([]uint64, n), make([][]string, n), make([]time.Time, n)
	for i, e := range events {
		ids[i], kinds[i], users[i], subjects[i], posts[i], medias[i] = e.ID, string(e.Kind), e.ActorID, e.SubjectID, e.PostID, e.MediaID
		bytes[i] = uint64(max(e.Bytes, 0))
		tags[i] = strings.Fields(e.Hashtags)
		if tags[i] == nil {
			tags[i] = []string{}
		}
		ats[i] = e.At.UTC()
	}
	b, err := s.db.Conn.PrepareBatch(ch.Context(ctx, ch.WithQueryID(qid)), `INSERT INTO raw_events (event_id, kind, user_id, subject_id, post_id, media_id, bytes, hashtags, at)`)
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

// DailyActiveUsers merges users_daily's uniqCombined states.
func (s *Store) DailyActiveUsers(ctx context.Context, from, to analytics.Day) ([]analytics.DayCount, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT day, uniqCombinedMerge(16)(users) FROM users_daily
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

// net is the SQL of the net like, comment and repost counts of rows with
// engagementCounts columns.
const net = `toInt64(sum(likes)) - toInt64(sum(unlikes)), toInt64(sum(comments)), toInt64(sum(reposts)) - toInt64(sum(unreposts))`

// PostEngagement reads engagement_daily.
func (s *Store) PostEngagement(ctx context.Context, postID string) ([]analytics.EngagementDay, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT day, `+net+` FROM engagement_daily WHERE post_id = ? GROUP BY day ORDER BY day`, postID)
	if err != nil {
		return nil, fmt.Errorf("analytics: post engagement: %w", err)
	}
	defer rows.Close()
	var out []analytics.EngagementDay
	for rows.Next() {
		var d analytics.EngagementDay
		if err := rows.Scan(&d.Day, &d.Likes, &d.Comments, &d.Reposts); err != nil {
			return nil, err
		}
		d.Day = analytics.Floor(d.Day)
		out = append(out, d)
	}
	return out, rows.Err()
}

// FollowerGrowth reads follows_daily in one query: the days before from
// fold into one row (day 0), the base.
func (s *Store) FollowerGrowth(ctx context.Context, userID string, from, to analytics.Day) (int64, []analytics.GrowthDay, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT if(day < toDate(?), toDate(0), day) AS d, toInt64(sum(gained)), toInt64(sum(lost))
FROM follows_daily WHERE user_id = ? AND day < toDate(?) GROUP BY d ORDER BY d`, day(from), userID, day(to))
	if err != nil {
		return 0, nil, fmt.Errorf("analytics: follower growth: %w", err)
	}
	defer rows.Close()
	var base int64
	var out []analytics.GrowthDay
	for rows.Next() {
		var d analytics.GrowthDay
		if err := rows.Scan(&d.Day, &d.Gained, &d.Lost); err != nil {
			return 0, nil, err
		}
		if d.Day = analytics.Floor(d.Day); d.Day.Before(from) {
			base += d.Gained - d.Lost
			continue
		}
		out = append(out, d)
	}
	return base, out, rows.Err()
}

// MediaUploads reads uploads_daily.
func (s *Store) MediaUploads(ctx context.Context, from, to analytics.Day) ([]analytics.UploadDay, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT day, toInt64(sum(uploads)), toInt64(sum(bytes)) FROM uploads_daily
WHERE day >= toDate(?) AND day < toDate(?) GROUP BY day ORDER BY day`, day(from), day(to))
	if err != nil {
		return nil, fmt.Errorf("analytics: media uploads: %w", err)
	}
	defer rows.Close()
	var out []analytics.UploadDay
	for rows.Next() {
		var u analytics.UploadDay
		if err := rows.Scan(&u.Day, &u.Uploads, &u.Bytes); err != nil {
			return nil, err
		}
		u.Day = analytics.Floor(u.Day)
		out = append(out, u)
	}
	return out, rows.Err()
}

// TrendingHashtags reads hashtags_hourly from since's hour on.
func (s *Store) TrendingHashtags(ctx context.Context, since time.Time, limit int) ([]analytics.TagCount, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT tag, toInt64(sum(posts)) AS n FROM hashtags_hourly
WHERE hour >= toDateTime(?) GROUP BY tag ORDER BY n DESC, tag LIMIT ?`, since.UTC().Truncate(time.Hour).Unix(), limit)
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

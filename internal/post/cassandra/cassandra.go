// Package cassandra implements the post store port on Cassandra (scale
// profile) with gocql, on the shared session of internal/engine/cassandra:
// LOCAL_QUORUM reads and writes, LOCAL_SERIAL for lightweight transactions
// (LWT) and for the reads that must see their outcome. Statements with
// binds are prepared by gocql.
//
// # Tables, one per query
//
//   - posts_by_id (post_id): the post and a state, 1 live or 2 deleted. A
//     deleted post keeps a marker row without its content (author, hashtags,
//     idempotency key, times) so that a retried Create cannot bring it back
//     and a retried Delete can finish its clean-up. The row is written only
//     by LWTs (insert IF NOT EXISTS; edit and delete IF state = 1 AND
//     edited_at = <the value read>), which serialises Create, Edit and
//     Delete of one post.
//   - posts_by_author (author_id, post_id DESC) + static n: an author's
//     posts, newest first, and how many there are.
//   - posts_by_hashtag (tag, post_id DESC): a tag's posts, newest first.
//   - post_idempotency ((author_id, key)) → post_id, claimed IF NOT EXISTS.
//   - post_edits (post_id, at DESC): the earlier versions of a post.
//   - engagement ((post_id, verb, shard), kind, at DESC, user_id DESC) +
//     static n: likes (verb 1) and reposts (verb 2), spread over 8 shard
//     partitions per post and verb by an FNV hash of the user ID. A shard
//     partition holds membership rows (kind 0; at is fixed at the epoch so
//     that a user's row is addressed by user ID alone; the row keeps when
//     the user engaged and the id of the call that wrote it), listing rows
//     (kind 1, keyed (at, user) for "newest first"), and n, its number of
//     members.
//   - comments_by_post (post_id, comment_id ASC) + static n: comments and
//     replies, oldest first; a top-level comment keeps the set of its
//     replies' IDs. comments_by_id (comment_id) → post_id locates a
//     comment for GetComment and DeleteComment.
//
// Hashtag and author entries only point at posts: a list reads a page of
// IDs, then the posts in one IN query, and keeps the live posts that still
// belong (the author's, or carrying the tag), so an entry left behind by a
// crash or by racing edits is never shown; such pages may come back shorter
// than the limit while a cursor follows.
//
// # Exact counts
//
// Counter columns are not used: an increment is not idempotent (a timed-out
// one may or may not have been applied, and a retry may count twice).
// Instead each count is a bigint static column n in the partition of the
// set it counts, and every change of the set is ONE conditional batch on
// that partition, applied atomically by one Paxos round. A like is:
//
//	INSERT membership row IF NOT EXISTS; INSERT listing row;
//	UPDATE n = m+1 IF n = m      (m read just before, null for a new shard)
//
// Cassandra 5 accepts conditions on a clustering row and on the static row
// of the same partition in one batch, and applies all or nothing, so n
// always equals the number of membership rows. A batch that fails returns
// the rows its conditions read: an existing membership row means the user
// already liked (changed=false, nothing counted); otherwise only n moved, and
// the call re-reads n and tries again. A call whose outcome is unknown (a
// write timeout) reads the membership row with LOCAL_SERIAL, which completes
// any Paxos round in flight, and reports changed=true only if the row holds
// this call's id. Unlike is the mirror image: DELETE the membership row IF
// op = <read>, DELETE its listing row, n = m-1 IF n = m. Hence every client
// retry, duplicate and race leaves the count exact; the suite's 40 users
// liking twice concurrently, and the benchmark's N users on one post, check
// it. n is read with LOCAL_QUORUM (a stale value only fails the condition;
// every eighth attempt reads serially).
//
// A post's like count is the sum of its 8 shards' n (SELECT DISTINCT ...
// WHERE post_id IN ... AND verb IN ... AND shard IN ..., which reads only
// static rows). The listing rows change in the same batch as the membership,
// so "who liked" never disagrees with the count, and Viewer reads the
// viewer's membership rows directly (a viewer's shard is the same for every
// post), so no per-user table has to be kept in step.
//
// Sharding spreads a hot post's Paxos contention over 8 partitions; within
// one process, concurrent likes of the same shard are also group-committed
// (engage.go): one batch carries up to 16 users' rows, each IF NOT EXISTS,
// and n = m+k, so one Paxos round serves many likes with the same
// exactness.
//
// Comments use the scheme on one partition per post (no shards, so a page
// is one ordered query): AddComment inserts the comment IF NOT EXISTS,
// adds it to its parent's replies IF the parent is still there, and moves
// n; DeleteComment deletes the comment IF its replies are those read, its
// replies with it, and moves n by the rows removed. Only top-level comments
// take replies: a reply to a reply is storage.ErrNotFound. Posts per author
// use it on posts_by_author.
//
// # Create, Edit, Delete
//
// Create with an idempotency key first claims (author, key) → post ID IF
// NOT EXISTS. A retry finds the claim and the post: a live post is returned
// with created=false; a claim whose post was never written (the first call
// died in between, or is still under way) is completed by writing the post
// under the claimed ID; a deleted post makes the retry fail with
// storage.ErrNotFound, so a retried Create never resurrects it. The post
// row is then inserted IF NOT EXISTS (created tells whether this call
// inserted it), then its hashtag entries are written and it joins its
// author's set (idempotent steps, so a retry completes an interrupted
// Create).
//
// Edit keeps the previous version in post_edits, keyed by that version's
// time (a retry writes the same row), then replaces the post IF it is still
// the version read, and moves its hashtag entries. A retry with the same
// text and time changes nothing; an edit not later than the current version
// is stored 1 ms after it, so versions stay ordered. Edits lists only
// versions older than the current one, which hides a history row written by
// an edit that then lost its race.
//
// Delete turns the row into the marker IF it is still the live version read
// (deleted=true for exactly one caller, which gets that version), then
// removes the hashtag entries, edits, engagement and comment partitions and
// comment pointers, and takes the post out of its author's set with the
// conditional batch above, so the author's count drops exactly once however
// often Delete is retried; a retried Delete (deleted=false) repeats the
// clean-up. Writers that may race a Delete (index entries of a Create,
// likes, reposts, comments) check the post after writing and clean up if
// it is gone: Delete marks the post before cleaning, so either the Delete
// sees their rows or they see the mark. Partition deletions use server-side
// timestamps, to order them after the Paxos writes they follow.
//
// # Limits
//
// A tag's partition grows with its posts (a time bucket per tag would be
// the next step for very popular tags); deleted-post markers and
// idempotency keys are kept. Times are stored as Cassandra timestamps
// (milliseconds) and returned in UTC.
package cassandra

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gocql/gocql"

	engine "github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the post store on Cassandra.
type Store struct {
	storage.Component
	db *engine.DB
	// groups coalesces concurrent likes and reposts of one shard (engage.go).
	groups groups
}

var _ post.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: post.Component, EngineName: "cassandra", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "posts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS posts_by_id (
	post_id    text PRIMARY KEY,
	author_id  text,
	body       text,
	visibility int,
	created_at timestamp
)`,
		`CREATE TABLE IF NOT EXISTS posts_by_author (
	author_id text,
	post_id   text,
	PRIMARY KEY (author_id, post_id)
) WITH CLUSTERING ORDER BY (post_id DESC)`,
	}},
	// Version 1 was never written to; version 2 replaces its tables with the
	// query-first schema described in the package comment.
	{Version: 2, Name: "posts, indexes, edits, engagement and comments", Statements: []string{
		`DROP TABLE IF EXISTS posts_by_id`,
		`DROP TABLE IF EXISTS posts_by_author`,
		`CREATE TABLE IF NOT EXISTS posts_by_id (
	post_id         text PRIMARY KEY,
	state           tinyint,
	author_id       text,
	body            text,
	media_ids       list<text>,
	visibility      int,
	content_warning text,
	quote_post_id   text,
	hashtags        list<text>,
	mentions        list<text>,
	created_at      timestamp,
	edited_at       timestamp,
	idem_key        text
)`,
		`CREATE TABLE IF NOT EXISTS posts_by_author (
	author_id text,
	post_id   text,
	n         bigint static,
	PRIMARY KEY (author_id, post_id)
) WITH CLUSTERING ORDER BY (post_id DESC)`,
		`CREATE TABLE IF NOT EXISTS posts_by_hashtag (
	tag     text,
	post_id text,
	PRIMARY KEY (tag, post_id)
) WITH CLUSTERING ORDER BY (post_id DESC)`,
		`CREATE TABLE IF NOT EXISTS post_idempotency (
	author_id text,
	key       text,
	post_id   text,
	PRIMARY KEY ((author_id, key))
)`,
		`CREATE TABLE IF NOT EXISTS post_edits (
	post_id         text,
	at              timestamp,
	body            text,
	content_warning text,
	PRIMARY KEY (post_id, at)
) WITH CLUSTERING ORDER BY (at DESC)`,
		`CREATE TABLE IF NOT EXISTS engagement (
	post_id text,
	verb    tinyint,
	shard   tinyint,
	kind    tinyint,
	at      timestamp,
	user_id text,
	op      text,
	since   timestamp,
	n       bigint static,
	PRIMARY KEY ((post_id, verb, shard), kind, at, user_id)
) WITH CLUSTERING ORDER BY (kind ASC, at DESC, user_id DESC)`,
		`CREATE TABLE IF NOT EXISTS comments_by_post (
	post_id    text,
	comment_id text,
	author_id  text,
	parent_id  text,
	body       text,
	created_at timestamp,
	replies    set<text>,
	n          bigint static,
	PRIMARY KEY (post_id, comment_id)
) WITH CLUSTERING ORDER BY (comment_id ASC)`,
		`CREATE TABLE IF NOT EXISTS comments_by_id (
	comment_id text PRIMARY KEY,
	post_id    text
)`,
	}},
}

const (
	stateLive    int8 = 1
	stateDeleted int8 = 2

	verbLike   int8 = 1
	verbRepost int8 = 2

	kindMember  int8 = 0
	kindListing int8 = 1

	// shards is how many partitions a post's likes (and reposts) spread over.
	shards = 8

	// inChunk bounds the posts of one IN query; engagement reads take
	// fewer (each post is 2 verbs x 8 shards partitions).
	inChunk  = 50
	engChunk = 8
	// maxLimit bounds a page; limit <= 0 means defaultLimit.
	maxLimit     = 500
	defaultLimit = 20
	// maxAttempts bounds the compare-and-set loops (each attempt re-reads).
	maxAttempts = 1000
)

// epoch is the fixed "at" of membership rows.
var epoch = time.UnixMilli(0).UTC()

// allShards lists the shard keys for IN queries.
var allShards = func() []int8 {
	s := make([]int8, shards)
	for i := range s {
		s[i] = int8(i)
	}
	return s
}()

func shardOf(userID string) int8 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return int8(h.Sum32() % shards)
}

// ms truncates t to what a Cassandra timestamp keeps, in UTC.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// tsArg binds a time, null when zero.
func tsArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func clamp(limit int) int {
	if limit <= 0 {
		return defaultLimit
	}
	return min(limit, maxLimit)
}

func notFound(what, id string) error {
	return fmt.Errorf("post: %s %s: %w", what, id, storage.ErrNotFound)
}

func (s *Store) query(ctx context.Context, stmt string, args ...any) *gocql.Query {
	return s.db.Session.Query(stmt, args...).WithContext(ctx)
}

// serial is a linearizable read: it sees (and completes) every Paxos round.
func (s *Store) serial(ctx context.Context, stmt string, args ...any) *gocql.Query {
	return s.query(ctx, stmt, args...).Consistency(gocql.Consistency(gocql.LocalSerial))
}

func (s *Store) batch(ctx context.Context) *gocql.Batch {
	return s.db.Session.NewBatch(gocql.LoggedBatch).WithContext(ctx)
}

// cas runs a conditional batch; when it is not applied, rows are the
// current values Cassandra returns for the rows the conditions named.
func (s *Store) cas(b *gocql.Batch) (applied bool, rows []map[string]any, err error) {
	first := map[string]any{}
	applied, it, err := s.db.Session.MapExecuteBatchCAS(b, first)
	if err != nil {
		return false, nil, err
	}
	if !applied {
		rows = append(rows, first)
		for {
			r := map[string]any{}
			if !it.MapScan(r) {
				break
			}
			rows = append(rows, r)
		}
	}
	return applied, rows, it.Close()
}

// uncertain reports errors after which a write may or may not have been
// applied (or a read did not answer): the caller re-reads and decides.
func uncertain(err error) bool {
	var (
		wt *gocql.RequestErrWriteTimeout
		rt *gocql.RequestErrReadTimeout
		un *gocql.RequestErrUnavailable
		cu *gocql.RequestErrCASWriteUnknown
	)
	return errors.As(err, &wt) || errors.As(err, &rt) || errors.As(err, &un) || errors.As(err, &cu) ||
		errors.Is(err, gocql.ErrTimeoutNoResponse)
}

// backoff sleeps a little, longer after repeated lost races.
func backoff(ctx context.Context, attempt int) error {
	if attempt >= maxAttempts {
		return fmt.Errorf("post: gave up after %d contended attempts: %w", attempt, storage.ErrConflict)
	}
	limit := time.Millisecond << min(attempt, 5) // 1 ms .. 32 ms
	t := time.NewTimer(rand.N(limit) + time.Millisecond/4)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// parallel runs fns concurrently and returns the first error.
func parallel(fns ...func() error) error {
	if len(fns) == 1 {
		return fns[0]()
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func chunks(ids []string) [][]string { return chunksOf(ids, inChunk) }

func chunksOf(ids []string, size int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		n := min(len(ids), size)
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	return out
}

func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ---- posts ----

const postColumns = `post_id, state, author_id, body, media_ids, visibility, content_warning, quote_post_id, hashtags, mentions, created_at, edited_at, idem_key`

// row is a posts_by_id row.
type row struct {
	post.Post
	state int8
	key   string
}

func scanRow(sc interface{ Scan(...any) bool }) (row, bool) {
	var r row
	var vis int
	ok := sc.Scan(&r.ID, &r.state, &r.AuthorID, &r.Text, &r.MediaIDs, &vis, &r.ContentWarning, &r.QuotePostID,
		&r.Hashtags, &r.Mentions, &r.CreatedAt, &r.EditedAt, &r.key)
	r.Visibility = post.Visibility(vis)
	r.CreatedAt, r.EditedAt = utc(r.CreatedAt), utc(r.EditedAt)
	return r, ok
}

// readRow reads one posts_by_id row (serially when serial is set).
func (s *Store) readRow(ctx context.Context, id string, serial bool) (row, bool, error) {
	stmt := `SELECT ` + postColumns + ` FROM posts_by_id WHERE post_id = ?`
	q := s.query(ctx, stmt, id)
	if serial {
		q = s.serial(ctx, stmt, id)
	}
	it := q.Iter()
	r, ok := scanRow(it)
	if err := it.Close(); err != nil {
		return row{}, false, err
	}
	return r, ok, nil
}

// rowFromMap reads a posts_by_id row out of a failed CAS result.
func rowFromMap(m map[string]any) row {
	var r row
	r.ID, _ = m["post_id"].(string)
	r.state, _ = m["state"].(int8)
	r.AuthorID, _ = m["author_id"].(string)
	r.Text, _ = m["body"].(string)
	r.MediaIDs, _ = m["media_ids"].([]string)
	vis, _ := m["visibility"].(int)
	r.Visibility = post.Visibility(vis)
	r.ContentWarning, _ = m["content_warning"].(string)
	r.QuotePostID, _ = m["quote_post_id"].(string)
	r.Hashtags, _ = m["hashtags"].([]string)
	r.Mentions, _ = m["mentions"].([]string)
	c, _ := m["created_at"].(time.Time)
	e, _ := m["edited_at"].(time.Time)
	r.CreatedAt, r.EditedAt = utc(c), utc(e)
	r.key, _ = m["idem_key"].(string)
	r.MediaIDs, r.Hashtags, r.Mentions = list(r.MediaIDs), list(r.Hashtags), list(r.Mentions)
	return r
}

// normalize returns the post as it will be read back.
func normalize(p post.Post) post.Post {
	p.CreatedAt = ms(p.CreatedAt)
	p.EditedAt = ms(p.EditedAt)
	p.MediaIDs = list(p.MediaIDs)
	p.Hashtags = list(p.Hashtags)
	p.Mentions = list(p.Mentions)
	return p
}

// list copies a list as it reads back (Cassandra stores an empty list as null).
func list(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return slices.Clone(l)
}

// Create stores p, or returns the post an earlier call made with the same
// idempotency key (see the package comment).
func (s *Store) Create(ctx context.Context, p post.Post, key string) (post.Post, bool, error) {
	if p.ID == "" || p.AuthorID == "" {
		return post.Post{}, false, errors.New("post: Create needs an ID and an author")
	}
	p = normalize(p)
	if key != "" {
		claimed, err := s.claim(ctx, p.AuthorID, key, p.ID)
		if err != nil {
			return post.Post{}, false, err
		}
		if claimed != p.ID {
			r, found, err := s.readRow(ctx, claimed, false)
			if err != nil {
				return post.Post{}, false, err
			}
			if found {
				return s.existing(ctx, r)
			}
			// The first call claimed the key but its post is not there (it
			// failed, or is still under way): write it under the claimed ID.
			p.ID = claimed
		}
	}
	applied, rows, err := s.insertPost(ctx, p, key)
	if err != nil {
		return post.Post{}, false, err
	}
	if !applied {
		return s.existing(ctx, rowFromMap(rows[0]))
	}
	if err := s.index(ctx, p); err != nil {
		return post.Post{}, false, err
	}
	return p, true, nil
}

// claim claims (author, key) for postID and returns the post ID that holds
// the claim (postID unless an earlier call claimed it).
func (s *Store) claim(ctx context.Context, author, key, postID string) (string, error) {
	for attempt := 0; ; attempt++ {
		m := map[string]any{}
		applied, err := s.query(ctx, `INSERT INTO post_idempotency (author_id, key, post_id) VALUES (?, ?, ?) IF NOT EXISTS`,
			author, key, postID).MapScanCAS(m)
		if err == nil {
			if applied {
				return postID, nil
			}
			claimed, _ := m["post_id"].(string)
			return claimed, nil
		}
		if !uncertain(err) {
			return "", fmt.Errorf("post: claim idempotency key: %w", err)
		}
		// The claim may have landed: read it back (completing its round).
		var claimed string
		err = s.serial(ctx, `SELECT post_id FROM post_idempotency WHERE author_id = ? AND key = ?`, author, key).Scan(&claimed)
		if err == nil {
			return claimed, nil
		}
		if !errors.Is(err, gocql.ErrNotFound) && !uncertain(err) {
			return "", fmt.Errorf("post: claim idempotency key: %w", err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return "", err
		}
	}
}

// existing answers a Create that found its post already stored: live, it
// completes its index entries (idempotent) and returns it; deleted, it is
// not found (a retry must not resurrect it).
func (s *Store) existing(ctx context.Context, r row) (post.Post, bool, error) {
	if r.state != stateLive {
		return post.Post{}, false, fmt.Errorf("post: the post %s created with this key was deleted: %w", r.ID, storage.ErrNotFound)
	}
	if err := s.index(ctx, r.Post); err != nil {
		return post.Post{}, false, err
	}
	return r.Post, false, nil
}

// insertPost inserts the post row IF NOT EXISTS; when it exists, rows[0]
// holds it. An unknown outcome is settled with a serial read.
func (s *Store) insertPost(ctx context.Context, p post.Post, key string) (bool, []map[string]any, error) {
	var keyArg any
	if key != "" {
		keyArg = key
	}
	q := s.query(ctx, `INSERT INTO posts_by_id (`+postColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
		p.ID, stateLive, p.AuthorID, p.Text, p.MediaIDs, int(p.Visibility), p.ContentWarning, p.QuotePostID,
		p.Hashtags, p.Mentions, tsArg(p.CreatedAt), tsArg(p.EditedAt), keyArg)
	m := map[string]any{}
	applied, err := q.MapScanCAS(m)
	if err == nil {
		return applied, []map[string]any{m}, nil
	}
	if !uncertain(err) {
		return false, nil, fmt.Errorf("post: insert %s: %w", p.ID, err)
	}
	for attempt := 1; ; attempt++ {
		r, found, err := s.readRow(ctx, p.ID, true)
		if err == nil {
			if !found {
				// The insert did not happen; try again.
				return s.insertPost(ctx, p, key)
			}
			// Ours if it is what we wrote (a concurrent same-ID writer would
			// have written the same request).
			if r.state == stateLive && r.AuthorID == p.AuthorID && r.Text == p.Text && r.CreatedAt.Equal(p.CreatedAt) {
				return true, nil, nil
			}
			m := map[string]any{"post_id": r.ID, "state": r.state, "author_id": r.AuthorID, "body": r.Text,
				"media_ids": r.MediaIDs, "visibility": int(r.Visibility), "content_warning": r.ContentWarning,
				"quote_post_id": r.QuotePostID, "hashtags": r.Hashtags, "mentions": r.Mentions,
				"created_at": r.CreatedAt, "edited_at": r.EditedAt, "idem_key": r.key}
			return false, []map[string]any{m}, nil
		}
		if !uncertain(err) {
			return false, nil, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return false, nil, err
		}
	}
}

// index writes a live post's hashtag entries and adds it to its author's
// set; both are idempotent.
func (s *Store) index(ctx context.Context, p post.Post) error {
	fns := []func() error{func() error {
		_, err := s.addAuthorPost(ctx, p.AuthorID, p.ID)
		return err
	}}
	for _, tag := range uniq(p.Hashtags) {
		fns = append(fns, func() error {
			return s.query(ctx, `INSERT INTO posts_by_hashtag (tag, post_id) VALUES (?, ?)`, tag, p.ID).Idempotent(true).Exec()
		})
	}
	if err := parallel(fns...); err != nil {
		return fmt.Errorf("post: index %s: %w", p.ID, err)
	}
	// A Delete may have cleaned up before these entries were written: then
	// clean up again (removing the post from its author's set is exact).
	live, err := s.isLive(ctx, p.ID)
	if err == nil && !live {
		err = s.cleanUp(ctx, p)
	}
	return err
}

// readN reads a partition's static count. The batch's condition checks it,
// so a plain LOCAL_QUORUM read will do (no Paxos round to contend with the
// writers of a hot partition); a stale value only fails the batch, and every
// eighth attempt reads serially, which completes an unfinished round.
func (s *Store) readN(ctx context.Context, attempt int, stmt string, args ...any) (*int64, error) {
	q := s.query(ctx, stmt, args...)
	if attempt%8 == 7 {
		q = s.serial(ctx, stmt, args...)
	}
	var n *int64
	if err := q.Scan(&n); err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return nil, err
	}
	return n, nil
}

// nArgs returns the new value and the condition value of a count change.
func nArgs(old *int64, delta int64) (int64, any) {
	if old == nil {
		return delta, nil
	}
	return *old + delta, *old
}

// addAuthorPost adds postID to the author's set and counts it, once.
func (s *Store) addAuthorPost(ctx context.Context, author, postID string) (bool, error) {
	for attempt := 0; ; attempt++ {
		old, err := s.readN(ctx, attempt, `SELECT n FROM posts_by_author WHERE author_id = ? LIMIT 1`, author)
		if err == nil {
			nw, cond := nArgs(old, 1)
			b := s.batch(ctx)
			b.Query(`INSERT INTO posts_by_author (author_id, post_id) VALUES (?, ?) IF NOT EXISTS`, author, postID)
			b.Query(`UPDATE posts_by_author SET n = ? WHERE author_id = ? IF n = ?`, nw, author, cond)
			var applied bool
			var rows []map[string]any
			applied, rows, err = s.cas(b)
			if err == nil {
				if applied {
					return true, nil
				}
				for _, r := range rows {
					if r["post_id"] == postID {
						return false, nil
					}
				}
			}
		}
		if err != nil && uncertain(err) {
			var id string
			err = s.serial(ctx, `SELECT post_id FROM posts_by_author WHERE author_id = ? AND post_id = ?`, author, postID).Scan(&id)
			if err == nil {
				return true, nil
			}
			if errors.Is(err, gocql.ErrNotFound) || uncertain(err) {
				err = nil
			}
		}
		if err != nil {
			return false, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// removeAuthorPost removes postID from the author's set and uncounts it, once.
func (s *Store) removeAuthorPost(ctx context.Context, author, postID string) error {
	for attempt := 0; ; attempt++ {
		var id string
		var old *int64
		err := s.serial(ctx, `SELECT post_id, n FROM posts_by_author WHERE author_id = ? AND post_id = ?`, author, postID).Scan(&id, &old)
		if errors.Is(err, gocql.ErrNotFound) {
			return nil
		}
		if err == nil {
			nw, cond := nArgs(old, -1)
			b := s.batch(ctx)
			b.Query(`DELETE FROM posts_by_author WHERE author_id = ? AND post_id = ? IF EXISTS`, author, postID)
			b.Query(`UPDATE posts_by_author SET n = ? WHERE author_id = ? IF n = ?`, nw, author, cond)
			var applied bool
			applied, _, err = s.cas(b)
			if err == nil && applied {
				return nil
			}
		}
		if err != nil && !uncertain(err) {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// Get returns a live post.
func (s *Store) Get(ctx context.Context, id string) (post.Post, error) {
	r, found, err := s.readRow(ctx, id, false)
	if err != nil {
		return post.Post{}, fmt.Errorf("post: get %s: %w", id, err)
	}
	if !found || r.state != stateLive {
		return post.Post{}, notFound("post", id)
	}
	return r.Post, nil
}

// rows reads the posts_by_id rows of ids (any state), by ID.
func (s *Store) rows(ctx context.Context, ids []string) (map[string]row, error) {
	ids = uniq(ids)
	out := make(map[string]row, len(ids))
	var mu sync.Mutex
	var fns []func() error
	for _, c := range chunks(ids) {
		fns = append(fns, func() error {
			it := s.query(ctx, `SELECT `+postColumns+` FROM posts_by_id WHERE post_id IN ?`, c).Iter()
			for {
				r, ok := scanRow(it)
				if !ok {
					break
				}
				mu.Lock()
				out[r.ID] = r
				mu.Unlock()
			}
			return it.Close()
		})
	}
	if len(fns) == 0 {
		return out, nil
	}
	if err := parallel(fns...); err != nil {
		return nil, fmt.Errorf("post: read posts: %w", err)
	}
	return out, nil
}

// live reports which of ids are live posts.
func (s *Store) live(ctx context.Context, ids []string) (map[string]bool, error) {
	ids = uniq(ids)
	out := make(map[string]bool, len(ids))
	var mu sync.Mutex
	var fns []func() error
	for _, c := range chunks(ids) {
		fns = append(fns, func() error {
			it := s.query(ctx, `SELECT post_id, state FROM posts_by_id WHERE post_id IN ?`, c).Iter()
			var id string
			var st int8
			for it.Scan(&id, &st) {
				if st == stateLive {
					mu.Lock()
					out[id] = true
					mu.Unlock()
				}
			}
			return it.Close()
		})
	}
	if len(fns) == 0 {
		return out, nil
	}
	if err := parallel(fns...); err != nil {
		return nil, fmt.Errorf("post: read posts: %w", err)
	}
	return out, nil
}

func (s *Store) isLive(ctx context.Context, id string) (bool, error) {
	var st int8
	err := s.query(ctx, `SELECT state FROM posts_by_id WHERE post_id = ?`, id).Scan(&st)
	if errors.Is(err, gocql.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("post: read %s: %w", id, err)
	}
	return st == stateLive, nil
}

// GetMany returns the live posts among ids, in the order of ids.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]post.Post, error) {
	rs, err := s.rows(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]post.Post, 0, len(ids))
	for _, id := range ids {
		if r, ok := rs[id]; ok && r.state == stateLive {
			out = append(out, r.Post)
		}
	}
	return out, nil
}

// versionAt is when the current version of a post was written.
func versionAt(p post.Post) time.Time {
	if !p.EditedAt.IsZero() {
		return p.EditedAt
	}
	return p.CreatedAt
}

// Edit replaces the post's text and keeps the previous version.
func (s *Store) Edit(ctx context.Context, id, text, contentWarning string, hashtags, mentions []string, at time.Time) (post.Post, error) {
	at = ms(at)
	hashtags, mentions = list(hashtags), list(mentions)
	for attempt := 0; ; attempt++ {
		cur, found, err := s.readRow(ctx, id, true)
		if err == nil {
			if !found || cur.state != stateLive {
				return post.Post{}, notFound("post", id)
			}
			if cur.EditedAt.Equal(at) && cur.Text == text && cur.ContentWarning == contentWarning {
				// A retry of an edit that was applied: finish its reindexing.
				if err := s.reindex(ctx, id, nil, cur.Hashtags); err != nil {
					return post.Post{}, err
				}
				return cur.Post, nil
			}
			prevAt := versionAt(cur.Post)
			edited := at
			if !edited.After(prevAt) {
				// Versions are keyed by time: keep them strictly increasing.
				edited = prevAt.Add(time.Millisecond)
			}
			err = s.query(ctx, `INSERT INTO post_edits (post_id, at, body, content_warning) VALUES (?, ?, ?, ?)`,
				id, prevAt, cur.Text, cur.ContentWarning).Idempotent(true).Exec()
			if err != nil {
				return post.Post{}, fmt.Errorf("post: keep version of %s: %w", id, err)
			}
			var applied bool
			applied, err = s.query(ctx, `UPDATE posts_by_id SET body = ?, content_warning = ?, hashtags = ?, mentions = ?, edited_at = ?
				WHERE post_id = ? IF state = ? AND edited_at = ?`,
				text, contentWarning, hashtags, mentions, edited, id, stateLive, tsArg(cur.EditedAt)).MapScanCAS(map[string]any{})
			if err == nil && applied {
				if err := s.reindex(ctx, id, cur.Hashtags, hashtags); err != nil {
					return post.Post{}, err
				}
				p := cur.Post
				p.Text, p.ContentWarning, p.Hashtags, p.Mentions, p.EditedAt = text, contentWarning, hashtags, mentions, edited
				return p, nil
			}
		}
		// Lost a race (or the outcome is unknown): the next serial read
		// shows the post as it is now, our edit included if it landed.
		if err != nil && !uncertain(err) {
			return post.Post{}, fmt.Errorf("post: edit %s: %w", id, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return post.Post{}, err
		}
	}
}

// reindex moves a post's hashtag entries from old tags to new ones.
func (s *Store) reindex(ctx context.Context, id string, old, nw []string) error {
	var fns []func() error
	for _, tag := range uniq(old) {
		if !slices.Contains(nw, tag) {
			fns = append(fns, func() error {
				return s.query(ctx, `DELETE FROM posts_by_hashtag WHERE tag = ? AND post_id = ?`, tag, id).Idempotent(true).Exec()
			})
		}
	}
	for _, tag := range uniq(nw) {
		fns = append(fns, func() error {
			return s.query(ctx, `INSERT INTO posts_by_hashtag (tag, post_id) VALUES (?, ?)`, tag, id).Idempotent(true).Exec()
		})
	}
	if len(fns) == 0 {
		return nil
	}
	if err := parallel(fns...); err != nil {
		return fmt.Errorf("post: reindex %s: %w", id, err)
	}
	return nil
}

// Edits lists the earlier versions of a live post, newest first.
func (s *Store) Edits(ctx context.Context, id, cursor string, limit int) ([]post.Edit, string, error) {
	parts, err := post.DecodeCursor(cursor, 1)
	if err != nil {
		return nil, "", err
	}
	limit = clamp(limit)
	p, err := s.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	// Only versions older than the current one: a row at or after it was
	// written by an edit that lost its race.
	before := versionAt(p)
	if parts != nil {
		m, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, "", post.ErrBadCursor
		}
		if c := time.UnixMilli(m).UTC(); c.Before(before) {
			before = c
		}
	}
	it := s.query(ctx, `SELECT at, body, content_warning FROM post_edits WHERE post_id = ? AND at < ? LIMIT ?`, id, before, limit+1).Iter()
	var out []post.Edit
	var e post.Edit
	for it.Scan(&e.At, &e.Text, &e.ContentWarning) {
		e.At = utc(e.At)
		out = append(out, e)
	}
	if err := it.Close(); err != nil {
		return nil, "", fmt.Errorf("post: edits of %s: %w", id, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = post.EncodeCursor(strconv.FormatInt(out[limit-1].At.UnixMilli(), 10))
	}
	return out, next, nil
}

// Delete marks the post deleted and removes everything hanging off it.
func (s *Store) Delete(ctx context.Context, id string) (post.Post, bool, error) {
	var unsure *post.Post // what our attempt with an unknown outcome deleted
	for attempt := 0; ; attempt++ {
		cur, found, err := s.readRow(ctx, id, true)
		if err == nil {
			if !found {
				return post.Post{}, false, nil
			}
			if cur.state != stateLive {
				// Deleted already: finish the clean-up (a retried Delete).
				if err := s.cleanUp(ctx, cur.Post); err != nil {
					return post.Post{}, false, err
				}
				if unsure != nil {
					// Our timed-out attempt landed (or a concurrent Delete of
					// the same version did; both then report it).
					return *unsure, true, nil
				}
				return post.Post{}, false, nil
			}
			unsure = nil
			var applied bool
			applied, err = s.query(ctx, `UPDATE posts_by_id SET state = ?, body = null, media_ids = null, content_warning = null,
				quote_post_id = null, mentions = null WHERE post_id = ? IF state = ? AND edited_at = ?`,
				stateDeleted, id, stateLive, tsArg(cur.EditedAt)).MapScanCAS(map[string]any{})
			if err == nil && applied {
				if err := s.cleanUp(ctx, cur.Post); err != nil {
					return post.Post{}, false, err
				}
				return cur.Post, true, nil
			}
			if err != nil && uncertain(err) {
				unsure = &cur.Post
			}
		}
		if err != nil && !uncertain(err) {
			return post.Post{}, false, fmt.Errorf("post: delete %s: %w", id, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return post.Post{}, false, err
		}
	}
}

// cleanUp removes what hangs off a deleted post; every step is idempotent.
func (s *Store) cleanUp(ctx context.Context, p post.Post) error {
	fns := []func() error{
		func() error { return s.removeAuthorPost(ctx, p.AuthorID, p.ID) },
		func() error {
			return s.query(ctx, `DELETE FROM post_edits WHERE post_id = ?`, p.ID).Idempotent(true).Exec()
		},
		func() error {
			_, err := s.eraseIfDeleted(ctx, p.ID)
			return err
		},
		func() error { return s.deleteComments(ctx, p.ID) },
	}
	for _, tag := range uniq(p.Hashtags) {
		fns = append(fns, func() error {
			return s.query(ctx, `DELETE FROM posts_by_hashtag WHERE tag = ? AND post_id = ?`, tag, p.ID).Idempotent(true).Exec()
		})
	}
	if err := parallel(fns...); err != nil {
		return fmt.Errorf("post: clean up %s: %w", p.ID, err)
	}
	return nil
}

// deleteComments removes a post's comments and their pointers.
func (s *Store) deleteComments(ctx context.Context, postID string) error {
	it := s.query(ctx, `SELECT comment_id FROM comments_by_post WHERE post_id = ?`, postID).PageSize(500).Iter()
	var ids []string
	var id string
	for it.Scan(&id) {
		if id != "" {
			ids = append(ids, id)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, c := range chunks(ids) {
		if err := s.query(ctx, `DELETE FROM comments_by_id WHERE comment_id IN ?`, c).Idempotent(true).Exec(); err != nil {
			return err
		}
	}
	return s.query(ctx, `DELETE FROM comments_by_post WHERE post_id = ?`, postID).DefaultTimestamp(false).Idempotent(true).Exec()
}

// listPosts pages through an index partition (post IDs, newest first) and
// returns the live posts that keep belongs to.
func (s *Store) listPosts(ctx context.Context, table, keyColumn, key, cursor string, limit int, keep func(post.Post) bool) ([]post.Post, string, error) {
	parts, err := post.DecodeCursor(cursor, 1)
	if err != nil {
		return nil, "", err
	}
	limit = clamp(limit)
	after := ""
	if parts != nil {
		after = parts[0]
	}
	var out []post.Post
	for len(out) <= limit {
		want := limit + 1 - len(out)
		var it *gocql.Iter
		if after == "" {
			it = s.query(ctx, `SELECT post_id FROM `+table+` WHERE `+keyColumn+` = ? LIMIT ?`, key, want).Iter()
		} else {
			it = s.query(ctx, `SELECT post_id FROM `+table+` WHERE `+keyColumn+` = ? AND post_id < ? LIMIT ?`, key, after, want).Iter()
		}
		var ids []string
		var id string
		scanned := 0
		for it.Scan(&id) {
			scanned++
			if id != "" { // a static-only row
				ids = append(ids, id)
			}
		}
		if err := it.Close(); err != nil {
			return nil, "", fmt.Errorf("post: list %s: %w", table, err)
		}
		if len(ids) > 0 {
			after = ids[len(ids)-1]
			ps, err := s.GetMany(ctx, ids)
			if err != nil {
				return nil, "", err
			}
			for _, p := range ps {
				if keep(p) {
					out = append(out, p)
				}
			}
		}
		if scanned < want || len(ids) == 0 {
			break
		}
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = post.EncodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// ByAuthor lists an author's live posts, newest first.
func (s *Store) ByAuthor(ctx context.Context, authorID, cursor string, limit int) ([]post.Post, string, error) {
	return s.listPosts(ctx, "posts_by_author", "author_id", authorID, cursor, limit,
		func(p post.Post) bool { return p.AuthorID == authorID })
}

// ByHashtag lists the live posts tagged with tag, newest first.
func (s *Store) ByHashtag(ctx context.Context, tag, cursor string, limit int) ([]post.Post, string, error) {
	return s.listPosts(ctx, "posts_by_hashtag", "tag", tag, cursor, limit,
		func(p post.Post) bool { return slices.Contains(p.Hashtags, tag) })
}

// PostCounts returns how many posts each author has (0 for the unknown).
func (s *Store) PostCounts(ctx context.Context, authorIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(authorIDs))
	for _, a := range authorIDs {
		out[a] = 0
	}
	for _, c := range chunks(uniq(authorIDs)) {
		it := s.query(ctx, `SELECT DISTINCT author_id, n FROM posts_by_author WHERE author_id IN ?`, c).Iter()
		var a string
		var n int64
		for it.Scan(&a, &n) {
			out[a] = n
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("post: post counts: %w", err)
		}
	}
	return out, nil
}

// ---- likes and reposts ----

// Like records userID's like of a post.
func (s *Store) Like(ctx context.Context, postID, userID string, at time.Time) (bool, error) {
	return s.engage(ctx, verbLike, postID, userID, at)
}

// Unlike removes userID's like.
func (s *Store) Unlike(ctx context.Context, postID, userID string) (bool, error) {
	return s.disengage(ctx, verbLike, postID, userID)
}

// Repost records userID's repost of a post.
func (s *Store) Repost(ctx context.Context, postID, userID string, at time.Time) (bool, error) {
	return s.engage(ctx, verbRepost, postID, userID, at)
}

// UndoRepost removes userID's repost.
func (s *Store) UndoRepost(ctx context.Context, postID, userID string) (bool, error) {
	return s.disengage(ctx, verbRepost, postID, userID)
}

// disengage removes userID from the post's verb set.
func (s *Store) disengage(ctx context.Context, verb int8, postID, userID string) (bool, error) {
	shard := shardOf(userID)
	target := "" // the membership we set out to remove
	for attempt := 0; ; attempt++ {
		var op string
		var since time.Time
		var old *int64
		err := s.serial(ctx, `SELECT op, since, n FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? AND kind = ? AND at = ? AND user_id = ?`,
			postID, verb, shard, kindMember, epoch, userID).Scan(&op, &since, &old)
		if errors.Is(err, gocql.ErrNotFound) {
			// Gone: by us if our timed-out attempt removed what we targeted.
			return target != "", nil
		}
		if err == nil {
			if target != "" && op != target {
				return true, nil // ours went, and the user engaged again since
			}
			target = op
			nw, cond := nArgs(old, -1)
			b := s.batch(ctx)
			b.Query(`DELETE FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? AND kind = ? AND at = ? AND user_id = ? IF op = ?`,
				postID, verb, shard, kindMember, epoch, userID, op)
			b.Query(`DELETE FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? AND kind = ? AND at = ? AND user_id = ?`,
				postID, verb, shard, kindListing, since, userID)
			b.Query(`UPDATE engagement SET n = ? WHERE post_id = ? AND verb = ? AND shard = ? IF n = ?`, nw, postID, verb, shard, cond)
			var applied bool
			applied, _, err = s.cas(b)
			if err == nil {
				if applied {
					return true, nil
				}
				target = "" // not ours: decide afresh
			}
		}
		if err != nil && !uncertain(err) {
			return false, fmt.Errorf("post: disengage %s: %w", postID, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// Likes lists who liked a live post, newest first: each shard's listing
// rows are already in that order, so a page merges the shards' heads.
func (s *Store) Likes(ctx context.Context, postID, cursor string, limit int) ([]post.Engagement, string, error) {
	parts, err := post.DecodeCursor(cursor, 2)
	if err != nil {
		return nil, "", err
	}
	limit = clamp(limit)
	var afterAt time.Time
	if parts != nil {
		m, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, "", post.ErrBadCursor
		}
		afterAt = time.UnixMilli(m).UTC()
	}
	live, err := s.isLive(ctx, postID)
	if err != nil || !live {
		return nil, "", err
	}
	pages := make([][]post.Engagement, shards)
	fns := make([]func() error, shards)
	for i := range fns {
		fns[i] = func() error {
			var it *gocql.Iter
			if parts == nil {
				it = s.query(ctx, `SELECT at, user_id FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? AND kind = ? LIMIT ?`,
					postID, verbLike, int8(i), kindListing, limit+1).Iter()
			} else {
				it = s.query(ctx, `SELECT at, user_id FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? AND kind = ? AND (at, user_id) < (?, ?) LIMIT ?`,
					postID, verbLike, int8(i), kindListing, afterAt, parts[1], limit+1).Iter()
			}
			var e post.Engagement
			for it.Scan(&e.At, &e.UserID) {
				e.At = utc(e.At)
				pages[i] = append(pages[i], e)
			}
			return it.Close()
		}
	}
	if err := parallel(fns...); err != nil {
		return nil, "", fmt.Errorf("post: likes of %s: %w", postID, err)
	}
	out := slices.Concat(pages...)
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].UserID > out[j].UserID
	})
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = post.EncodeCursor(strconv.FormatInt(last.At.UnixMilli(), 10), last.UserID)
	}
	return out, next, nil
}

// Counts sums the live posts' shard counts.
func (s *Store) Counts(ctx context.Context, ids []string) (map[string]post.Counts, error) {
	ids = uniq(ids)
	var live map[string]bool
	var mu sync.Mutex
	sums := make(map[string]post.Counts, len(ids))
	fns := []func() error{func() (err error) {
		live, err = s.live(ctx, ids)
		return err
	}}
	for _, c := range chunksOf(ids, engChunk) {
		fns = append(fns, func() error {
			it := s.query(ctx, `SELECT DISTINCT post_id, verb, shard, n FROM engagement WHERE post_id IN ? AND verb IN ? AND shard IN ?`,
				c, []int8{verbLike, verbRepost}, allShards).Iter()
			var id string
			var verb, shard int8
			var n int64
			for it.Scan(&id, &verb, &shard, &n) {
				mu.Lock()
				cs := sums[id]
				if verb == verbLike {
					cs.Likes += n
				} else {
					cs.Reposts += n
				}
				sums[id] = cs
				mu.Unlock()
			}
			return it.Close()
		})
	}
	for _, c := range chunks(ids) {
		fns = append(fns, func() error {
			it := s.query(ctx, `SELECT DISTINCT post_id, n FROM comments_by_post WHERE post_id IN ?`, c).Iter()
			var id string
			var n int64
			for it.Scan(&id, &n) {
				mu.Lock()
				cs := sums[id]
				cs.Comments = n
				sums[id] = cs
				mu.Unlock()
			}
			return it.Close()
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, fmt.Errorf("post: counts: %w", err)
	}
	out := make(map[string]post.Counts, len(live))
	for id := range live {
		out[id] = sums[id]
	}
	return out, nil
}

// Viewer reads viewer's membership rows of the posts (one shard per viewer).
func (s *Store) Viewer(ctx context.Context, viewer string, ids []string) (map[string]post.ViewerState, error) {
	out := map[string]post.ViewerState{}
	for _, c := range chunks(uniq(ids)) {
		it := s.query(ctx, `SELECT post_id, verb FROM engagement WHERE post_id IN ? AND verb IN ? AND shard = ? AND kind = ? AND at = ? AND user_id = ?`,
			c, []int8{verbLike, verbRepost}, shardOf(viewer), kindMember, epoch, viewer).Iter()
		var id string
		var verb int8
		for it.Scan(&id, &verb) {
			v := out[id]
			if verb == verbLike {
				v.Liked = true
			} else {
				v.Reposted = true
			}
			out[id] = v
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("post: viewer state: %w", err)
		}
	}
	return out, nil
}

// ---- comments ----

// AddComment stores c once; a reply is added to its parent's replies in the
// same conditional batch.
func (s *Store) AddComment(ctx context.Context, c post.Comment) error {
	if c.ID == "" || c.PostID == "" || c.AuthorID == "" {
		return errors.New("post: a comment needs an ID, a post and an author")
	}
	live, err := s.isLive(ctx, c.PostID)
	if err != nil {
		return err
	}
	if !live {
		return notFound("post", c.PostID)
	}
	c.CreatedAt = ms(c.CreatedAt)
	var parentAuthor string
	if c.ParentID != "" {
		var grand string
		err := s.serial(ctx, `SELECT author_id, parent_id FROM comments_by_post WHERE post_id = ? AND comment_id = ?`, c.PostID, c.ParentID).Scan(&parentAuthor, &grand)
		if errors.Is(err, gocql.ErrNotFound) || err == nil && grand != "" {
			// Only top-level comments take replies (one level of threading).
			return notFound("top-level comment", c.ParentID)
		}
		if err != nil {
			return fmt.Errorf("post: read comment %s: %w", c.ParentID, err)
		}
	}
	var parentArg any
	if c.ParentID != "" {
		parentArg = c.ParentID
	}
	for attempt := 0; ; attempt++ {
		old, err := s.readN(ctx, attempt, `SELECT n FROM comments_by_post WHERE post_id = ? LIMIT 1`, c.PostID)
		if err == nil {
			nw, cond := nArgs(old, 1)
			b := s.batch(ctx)
			b.Query(`INSERT INTO comments_by_post (post_id, comment_id, author_id, parent_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
				c.PostID, c.ID, c.AuthorID, parentArg, c.Text, tsArg(c.CreatedAt))
			if c.ParentID != "" {
				b.Query(`UPDATE comments_by_post SET replies = replies + ? WHERE post_id = ? AND comment_id = ? IF author_id = ?`,
					[]string{c.ID}, c.PostID, c.ParentID, parentAuthor)
			}
			b.Query(`UPDATE comments_by_post SET n = ? WHERE post_id = ? IF n = ?`, nw, c.PostID, cond)
			var applied bool
			var rows []map[string]any
			applied, rows, err = s.cas(b)
			if err == nil {
				if applied {
					// As in eraseIfDeleted: a Delete may have removed the
					// comments just before this batch wrote.
					live, err := s.isLive(ctx, c.PostID)
					if err != nil {
						return err
					}
					if !live {
						if err := s.deleteComments(ctx, c.PostID); err != nil {
							return fmt.Errorf("post: add comment %s: %w", c.ID, err)
						}
						return notFound("post", c.PostID)
					}
					return s.pointComment(ctx, c)
				}
				parentSeen := false
				for _, r := range rows {
					switch r["comment_id"] {
					case c.ID:
						return s.pointComment(ctx, c) // stored already
					case c.ParentID:
						parentSeen = true
					}
				}
				if c.ParentID != "" && !parentSeen {
					return notFound("top-level comment", c.ParentID)
				}
			}
		}
		if err != nil && uncertain(err) {
			var id string
			err = s.serial(ctx, `SELECT comment_id FROM comments_by_post WHERE post_id = ? AND comment_id = ?`, c.PostID, c.ID).Scan(&id)
			if err == nil {
				return s.pointComment(ctx, c)
			}
			if errors.Is(err, gocql.ErrNotFound) || uncertain(err) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("post: add comment %s: %w", c.ID, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// pointComment writes the comment's pointer (after the comment, so that a
// pointer without a comment is the only leftover a crash can make, and
// GetComment treats it as absent).
func (s *Store) pointComment(ctx context.Context, c post.Comment) error {
	err := s.query(ctx, `INSERT INTO comments_by_id (comment_id, post_id) VALUES (?, ?)`, c.ID, c.PostID).Idempotent(true).Exec()
	if err != nil {
		return fmt.Errorf("post: add comment %s: %w", c.ID, err)
	}
	return nil
}

func (s *Store) commentPost(ctx context.Context, id string) (string, bool, error) {
	var postID string
	err := s.query(ctx, `SELECT post_id FROM comments_by_id WHERE comment_id = ?`, id).Scan(&postID)
	if errors.Is(err, gocql.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("post: comment %s: %w", id, err)
	}
	return postID, true, nil
}

// GetComment returns a comment of a live post.
func (s *Store) GetComment(ctx context.Context, id string) (post.Comment, error) {
	postID, found, err := s.commentPost(ctx, id)
	if err != nil {
		return post.Comment{}, err
	}
	if !found {
		return post.Comment{}, notFound("comment", id)
	}
	c := post.Comment{ID: id, PostID: postID}
	var live bool
	err = parallel(func() error {
		return s.query(ctx, `SELECT author_id, parent_id, body, created_at FROM comments_by_post WHERE post_id = ? AND comment_id = ?`,
			postID, id).Scan(&c.AuthorID, &c.ParentID, &c.Text, &c.CreatedAt)
	}, func() (err error) {
		live, err = s.isLive(ctx, postID)
		return err
	})
	if errors.Is(err, gocql.ErrNotFound) || err == nil && !live {
		return post.Comment{}, notFound("comment", id)
	}
	if err != nil {
		return post.Comment{}, fmt.Errorf("post: comment %s: %w", id, err)
	}
	c.CreatedAt = utc(c.CreatedAt)
	return c, nil
}

// DeleteComment removes a comment with its replies in one conditional batch.
func (s *Store) DeleteComment(ctx context.Context, id string) (bool, error) {
	postID, found, err := s.commentPost(ctx, id)
	if err != nil || !found {
		return false, err
	}
	unsure := false
	for attempt := 0; ; attempt++ {
		var author, parent string
		var replies []string
		var old *int64
		err := s.serial(ctx, `SELECT author_id, parent_id, replies, n FROM comments_by_post WHERE post_id = ? AND comment_id = ?`,
			postID, id).Scan(&author, &parent, &replies, &old)
		if errors.Is(err, gocql.ErrNotFound) {
			// Gone (by our timed-out attempt, when unsure): drop the pointer.
			if err := s.query(ctx, `DELETE FROM comments_by_id WHERE comment_id = ?`, id).Idempotent(true).Exec(); err != nil {
				return false, fmt.Errorf("post: delete comment %s: %w", id, err)
			}
			return unsure, nil
		}
		if err == nil {
			nw, cond := nArgs(old, -int64(1+len(replies)))
			var repliesArg any
			if len(replies) > 0 {
				repliesArg = replies
			}
			b := s.batch(ctx)
			b.Query(`DELETE FROM comments_by_post WHERE post_id = ? AND comment_id = ? IF author_id = ? AND replies = ?`, postID, id, author, repliesArg)
			for _, r := range replies {
				b.Query(`DELETE FROM comments_by_post WHERE post_id = ? AND comment_id = ?`, postID, r)
			}
			if parent != "" {
				b.Query(`UPDATE comments_by_post SET replies = replies - ? WHERE post_id = ? AND comment_id = ?`, []string{id}, postID, parent)
			}
			b.Query(`UPDATE comments_by_post SET n = ? WHERE post_id = ? IF n = ?`, nw, postID, cond)
			var applied bool
			applied, _, err = s.cas(b)
			if err == nil && applied {
				if err := s.query(ctx, `DELETE FROM comments_by_id WHERE comment_id IN ?`, append([]string{id}, replies...)).Idempotent(true).Exec(); err != nil {
					return false, fmt.Errorf("post: delete comment %s: %w", id, err)
				}
				return true, nil
			}
			if err != nil && uncertain(err) {
				unsure = true
			}
		}
		if err != nil && !uncertain(err) {
			return false, fmt.Errorf("post: delete comment %s: %w", id, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return false, err
		}
	}
}

// Comments lists a live post's comments and replies, oldest first.
func (s *Store) Comments(ctx context.Context, postID, cursor string, limit int) ([]post.Comment, string, error) {
	parts, err := post.DecodeCursor(cursor, 1)
	if err != nil {
		return nil, "", err
	}
	limit = clamp(limit)
	live, err := s.isLive(ctx, postID)
	if err != nil || !live {
		return nil, "", err
	}
	const cols = `SELECT comment_id, author_id, parent_id, body, created_at FROM comments_by_post WHERE post_id = ?`
	var it *gocql.Iter
	if parts == nil {
		it = s.query(ctx, cols+` LIMIT ?`, postID, limit+1).Iter()
	} else {
		it = s.query(ctx, cols+` AND comment_id > ? LIMIT ?`, postID, parts[0], limit+1).Iter()
	}
	var out []post.Comment
	c := post.Comment{PostID: postID}
	for it.Scan(&c.ID, &c.AuthorID, &c.ParentID, &c.Text, &c.CreatedAt) {
		if c.ID == "" { // the static-only row of a partition without comments
			continue
		}
		c.CreatedAt = utc(c.CreatedAt)
		out = append(out, c)
	}
	if err := it.Close(); err != nil {
		return nil, "", fmt.Errorf("post: comments of %s: %w", postID, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = post.EncodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// ---- scans ----

// page runs one page of a full-table scan: stmt's rows from the paging
// state in cursor, at most limit, each passed to scan; the next cursor is
// the driver's paging state ("" after the last page).
func (s *Store) page(ctx context.Context, op, stmt, cursor string, limit int, scan func(it *gocql.Iter) bool, args ...any) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("post: %s: limit %d must be positive", op, limit)
	}
	state, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", post.ErrBadCursor
	}
	it := s.query(ctx, stmt, args...).PageSize(limit).PageState(state).Iter()
	next := it.PageState()
	for scan(it) {
	}
	if err := it.Close(); err != nil {
		return "", fmt.Errorf("post: %s: %w", op, err)
	}
	return base64.RawURLEncoding.EncodeToString(next), nil
}

// ScanPosts pages through posts_by_id in token order (the driver's paging
// state is the cursor), leaving out deleted posts.
func (s *Store) ScanPosts(ctx context.Context, cursor string, limit int) ([]post.Post, string, error) {
	var out []post.Post
	next, err := s.page(ctx, "scan posts", `SELECT `+postColumns+` FROM posts_by_id`, cursor, limit, func(it *gocql.Iter) bool {
		r, ok := scanRow(it)
		if ok && r.state == stateLive {
			out = append(out, r.Post)
		}
		return ok
	})
	return out, next, err
}

// ScanEngagement pages through the membership rows of engagement (kind 0:
// one per like or repost, with the time it was made).
func (s *Store) ScanEngagement(ctx context.Context, cursor string, limit int) ([]post.EngagementRow, string, error) {
	var out []post.EngagementRow
	next, err := s.page(ctx, "scan engagement", `SELECT post_id, verb, user_id, since FROM engagement WHERE kind = ? ALLOW FILTERING`, cursor, limit,
		func(it *gocql.Iter) bool {
			var e post.EngagementRow
			var verb int8
			ok := it.Scan(&e.PostID, &verb, &e.UserID, &e.At)
			if ok {
				e.Verb, e.At = post.Like, utc(e.At)
				if verb == verbRepost {
					e.Verb = post.Repost
				}
				out = append(out, e)
			}
			return ok
		}, kindMember)
	return out, next, err
}

// ScanComments pages through comments_by_post (partitions left with only
// their count have no comment).
func (s *Store) ScanComments(ctx context.Context, cursor string, limit int) ([]post.Comment, string, error) {
	var out []post.Comment
	next, err := s.page(ctx, "scan comments", `SELECT post_id, comment_id, author_id, parent_id, body, created_at FROM comments_by_post`, cursor, limit,
		func(it *gocql.Iter) bool {
			var c post.Comment
			ok := it.Scan(&c.PostID, &c.ID, &c.AuthorID, &c.ParentID, &c.Text, &c.CreatedAt)
			if ok && c.ID != "" {
				c.CreatedAt = utc(c.CreatedAt)
				out = append(out, c)
			}
			return ok
		})
	return out, next, err
}

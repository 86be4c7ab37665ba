// Package cassandra implements the timeline store port on Cassandra (scale
// profile) with gocql, on the shared session of internal/engine/cassandra
// and at the consistency it sets (LOCAL_QUORUM reads and writes).
// Statements with binds are prepared by gocql, so they are routed to a
// replica of their partition.
//
// # Table
//
// One partition per owner, clustered newest first by the entry's key:
//
//	timeline_entries ((owner_id), at DESC, post_id DESC, reposted_by DESC) + author_id
//
// at is a Cassandra timestamp (milliseconds, bound as Unix milliseconds, so
// it is exactly the port's precision and the cursor's) and reposted_by is ""
// for a post itself. Version 1's home_timeline table was never written to;
// version 2 drops it.
//
// # Operations
//
//   - Add is a plain INSERT per owner: an upsert, so rewriting an entry an
//     owner already has changes nothing, and a retried fan-out duplicates
//     nothing. A fan-out batch (one entry, up to a thousand owners) touches
//     as many partitions, usually on different replicas, so it is not a
//     logged batch (that would go through one coordinator and the batch
//     log); the inserts run concurrently, at most maxInFlight at a time,
//     and the first error cancels the rest and is returned. A failed Add
//     may have written some owners; retrying it writes the rest.
//   - Page is one range query on the owner's partition: the cursor (the
//     shared timeline.EncodeCursor of the last entry returned) is an
//     exclusive upper bound on the clustering tuple,
//     (at, post_id, reposted_by) < (?, ?, ?), read with LIMIT limit+1 to
//     know whether a next page exists. Entries written above the cursor
//     after it was issued do not shift the following pages.
//   - Remove deletes the entry's row (its whole key) from each owner,
//     concurrently like Add.
//   - RemoveAuthor reads the owner's partition (bounded by Trim and the
//     TTL: a few thousand rows at most) and deletes the rows whose
//     author_id or reposted_by is the author, in single-partition unlogged
//     batches (one mutation each). It says how many rows it found to
//     delete.
//   - Trim reads the first keep+1 clustering keys; when there are more than
//     keep rows it writes ONE range tombstone,
//     DELETE ... WHERE owner_id = ? AND (at, post_id, reposted_by) < <keep-th key>,
//     whatever the number of rows beyond keep. keep 0 deletes the
//     partition. Its cost is the read of keep+1 keys, the same for one row
//     too many as for hundreds, so a caller may trim with some slack
//     rather than after every Add.
//
// # Bounds on a partition
//
// Callers trim timelines (timeline.MaxEntries is the usual bound); as a
// second bound, the table has a default TTL of 30 days (defaultTTL),
// counted from each entry's last write, so a timeline nobody writes or
// trims any more empties itself rather than growing forever. The
// flip side: an entry not rewritten for 30 days is gone, so a timeline
// with no new entries for that long reads as empty (rebuilding it is for
// the reader to decide). Deleted and expired rows are tombstones until
// gc_grace_seconds (default 10 days) has passed; Trim's range tombstones
// sit below the live rows, so a first page never reads them.
package cassandra

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	engine "github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

const (
	// maxInFlight bounds the concurrent statements of one Add or Remove.
	maxInFlight = 64
	// deleteBatch is how many row deletions one unlogged batch of
	// RemoveAuthor carries (all in one partition, well under the batch
	// size warning).
	deleteBatch = 50
	// defaultTTL is the table's default time to live, in seconds (30 days).
	defaultTTL = 30 * 24 * 60 * 60
)

// Store is the timeline store on Cassandra.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ timeline.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: timeline.Component, EngineName: "cassandra", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "home timeline", Statements: []string{
		`CREATE TABLE IF NOT EXISTS home_timeline (
	user_id     text,
	entry_id    text,
	post_id     text,
	author_id   text,
	reposted_by text,
	PRIMARY KEY (user_id, entry_id)
) WITH CLUSTERING ORDER BY (entry_id DESC)`,
	}},
	// Version 1's table was never written to; version 2 replaces it with one
	// partition per owner clustered by the entry key (package comment).
	{Version: 2, Name: "timeline entries", Statements: []string{
		`DROP TABLE IF EXISTS home_timeline`,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS timeline_entries (
	owner_id    text,
	at          timestamp,
	post_id     text,
	reposted_by text,
	author_id   text,
	PRIMARY KEY ((owner_id), at, post_id, reposted_by)
) WITH CLUSTERING ORDER BY (at DESC, post_id DESC, reposted_by DESC)
	AND default_time_to_live = %d`, defaultTTL),
	}},
}

func (s *Store) query(ctx context.Context, stmt string, args ...any) *gocql.Query {
	return s.db.Session.Query(stmt, args...).WithContext(ctx)
}

// Add writes e into each owner's timeline, concurrently.
func (s *Store) Add(ctx context.Context, owners []string, e timeline.Entry) error {
	return s.AddMany(ctx, []timeline.Write{{Owners: owners, Entry: e}})
}

// AddMany writes every entry to its owners, all inserts in flight together
// (a bounded number at once, see forEach).
func (s *Store) AddMany(ctx context.Context, ws []timeline.Write) error {
	type row struct {
		owner string
		e     *timeline.Entry
	}
	var rows []row
	for i := range ws {
		if err := checkOwners(ws[i].Owners); err != nil {
			return wrap("add", err)
		}
		for _, o := range ws[i].Owners {
			rows = append(rows, row{o, &ws[i].Entry})
		}
	}
	return wrap("add", forEach(ctx, len(rows), func(ctx context.Context, i int) error {
		e := rows[i].e
		return s.query(ctx, `INSERT INTO timeline_entries (owner_id, at, post_id, reposted_by, author_id) VALUES (?, ?, ?, ?, ?)`,
			rows[i].owner, e.At.UnixMilli(), e.PostID, e.RepostedBy, e.AuthorID).Idempotent(true).Exec()
	}))
}

// Page lists owner's entries newest first after cursor.
func (s *Store) Page(ctx context.Context, owner, cursor string, limit int) ([]timeline.Entry, string, error) {
	after, ok, err := timeline.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("timeline: limit %d must be positive", limit)
	}
	if owner == "" {
		return nil, "", nil
	}
	const cols = `SELECT at, post_id, reposted_by, author_id FROM timeline_entries WHERE owner_id = ?`
	var q *gocql.Query
	if ok {
		q = s.query(ctx, cols+` AND (at, post_id, reposted_by) < (?, ?, ?) LIMIT ?`,
			owner, after.At.UnixMilli(), after.PostID, after.RepostedBy, limit+1)
	} else {
		q = s.query(ctx, cols+` LIMIT ?`, owner, limit+1)
	}
	it := q.PageSize(limit + 1).Iter()
	var out []timeline.Entry
	var e timeline.Entry
	var at int64
	for it.Scan(&at, &e.PostID, &e.RepostedBy, &e.AuthorID) {
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	if err := it.Close(); err != nil {
		return nil, "", wrap("page", err)
	}
	if len(out) > limit {
		out = out[:limit]
		return out, timeline.EncodeCursor(out[limit-1]), nil
	}
	return out, "", nil
}

// Remove deletes e (by its key) from each owner's timeline, concurrently.
func (s *Store) Remove(ctx context.Context, owners []string, e timeline.Entry) error {
	if err := checkOwners(owners); err != nil {
		return wrap("remove", err)
	}
	at := e.At.UnixMilli()
	return wrap("remove", forEach(ctx, len(owners), func(ctx context.Context, i int) error {
		return s.query(ctx, `DELETE FROM timeline_entries WHERE owner_id = ? AND at = ? AND post_id = ? AND reposted_by = ?`,
			owners[i], at, e.PostID, e.RepostedBy).Idempotent(true).Exec()
	}))
}

// key is an entry's clustering key.
type key struct {
	at       int64
	postID   string
	reposter string
}

// RemoveAuthor deletes authorID's posts and reposts from owner's timeline.
func (s *Store) RemoveAuthor(ctx context.Context, owner, authorID string) (int, error) {
	if owner == "" || authorID == "" {
		return 0, nil
	}
	it := s.query(ctx, `SELECT at, post_id, reposted_by, author_id FROM timeline_entries WHERE owner_id = ?`, owner).
		PageSize(1000).Iter()
	var gone []key
	var k key
	var author string
	for it.Scan(&k.at, &k.postID, &k.reposter, &author) {
		if author == authorID || k.reposter == authorID {
			gone = append(gone, k)
		}
	}
	if err := it.Close(); err != nil {
		return 0, wrap("remove author", err)
	}
	batches := (len(gone) + deleteBatch - 1) / deleteBatch
	err := forEach(ctx, batches, func(ctx context.Context, i int) error {
		b := s.db.Session.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
		for _, k := range gone[i*deleteBatch : min((i+1)*deleteBatch, len(gone))] {
			b.Query(`DELETE FROM timeline_entries WHERE owner_id = ? AND at = ? AND post_id = ? AND reposted_by = ?`,
				owner, k.at, k.postID, k.reposter)
		}
		return s.db.Session.ExecuteBatch(b)
	})
	if err != nil {
		return 0, wrap("remove author", err)
	}
	return len(gone), nil
}

// Trim keeps owner's newest keep entries with one range deletion.
func (s *Store) Trim(ctx context.Context, owner string, keep int) error {
	if keep < 0 {
		return fmt.Errorf("timeline: trim: keep %d must not be negative", keep)
	}
	if owner == "" {
		return nil
	}
	if keep == 0 {
		return wrap("trim", s.query(ctx, `DELETE FROM timeline_entries WHERE owner_id = ?`, owner).Idempotent(true).Exec())
	}
	it := s.query(ctx, `SELECT at, post_id, reposted_by FROM timeline_entries WHERE owner_id = ? LIMIT ?`, owner, keep+1).
		PageSize(min(keep+1, 5000)).Iter()
	var last, k key
	n := 0
	for it.Scan(&k.at, &k.postID, &k.reposter) {
		n++
		if n == keep {
			last = k
		}
	}
	if err := it.Close(); err != nil {
		return wrap("trim", err)
	}
	if n <= keep {
		return nil
	}
	return wrap("trim", s.query(ctx, `DELETE FROM timeline_entries WHERE owner_id = ? AND (at, post_id, reposted_by) < (?, ?, ?)`,
		owner, last.at, last.postID, last.reposter).Idempotent(true).Exec())
}

// forEach runs fn(ctx, i) for i in [0, n), at most maxInFlight at a time.
// The first error cancels the calls not yet done and is returned.
func forEach(parent context.Context, n int, fn func(ctx context.Context, i int) error) error {
	switch n {
	case 0:
		return nil
	case 1:
		return fn(parent, 0)
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		next, done atomic.Int64
		once       sync.Once
		first      error
		wg         sync.WaitGroup
	)
	for range min(n, maxInFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if first == nil && int(done.Load()) < n {
		// Cancelled from outside before every call ran.
		return parent.Err()
	}
	return first
}

func checkOwners(owners []string) error {
	for _, o := range owners {
		if o == "" {
			return errors.New("empty owner ID")
		}
	}
	return nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("timeline: %s: %w", op, err)
}

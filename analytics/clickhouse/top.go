package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ejazz/ejazz/analytics"
)

// TopPosts has to rank every post with engagement since q.Since: over 7
// days of the 10M-event benchmark that is 176,000 posts, and grouping them
// is the one step no aggregate removes (~100 ms on the 2-core CI box). The
// closed hours are the way out. An event of hour h, seen at now with
// half-life L, weighs
//
//	w·2^(-(now-h)/L) = 2^(-(now-to)/L) · w·2^((h-to)/L)
//
// so for the whole hours [from, to) before now's, a post's anchored score
// A = Σ w·2^((h-to)/L) (at most 1 per event: nothing overflows) does not
// depend on now, nor does the order of the posts by A. The store keeps, per
// (from, to, L), the topKeep best posts of those hours by A with their
// counts, and a fingerprint: the sums of the count columns over those
// hours, which a merge never changes and any insert raises. A query whose
// fingerprint still matches reads only the open rows (the partial first
// hour from raw_events, the hours from now's on) and the closed rows of the
// posts among them. Every post outside the cached best and the open ones
// scores factor·A no higher than the cached best without open rows, so
// while at least limit of those remain the result is exact (otherwise, or
// when L, the window or the data changed, it is computed afresh). The
// window moves on every hour: the first query of an hour ranks the closed
// hours again.

// topKeep is how many posts of the closed hours a cache entry keeps (at
// least twice the query's limit).
const topKeep = 1000

// maxNeed bounds the open posts whose closed hours one query reads (their
// keys are listed in it); beyond, the ranking is computed directly.
const maxNeed = 5000

// topCacheSize bounds the windows kept (the dashboard's week, trending's
// day, a few API calls).
const topCacheSize = 8

// topCache is a small most-recently-used list of closed-hours rankings.
type topCache struct {
	mu      sync.Mutex
	entries []*topEntry
}

// topEntry is the ranking of the closed hours [from, to) at half-life:
// the keep best posts (all of them when fewer).
type topEntry struct {
	from, to    int64
	halfLife    float64
	fingerprint uint64
	keep        int
	best        []topPost // by a desc, then key
}

// complete reports whether best holds every post of the closed hours.
func (e *topEntry) complete() bool { return len(e.best) < e.keep }

// topPost is one post's figures over the closed hours: a is its score
// anchored at to (Σ w·2^((h-to)/L)), with net counts.
type topPost struct {
	key                      uint64
	id                       string
	a                        float64
	likes, comments, reposts int64
}

func (c *topCache) get(from, to int64, halfLife float64) *topEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.from == from && e.to == to && e.halfLife == halfLife {
			copy(c.entries[1:i+1], c.entries[:i])
			c.entries[0] = e
			return e
		}
	}
	return nil
}

func (c *topCache) put(e *topEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = slices.DeleteFunc(c.entries, func(x *topEntry) bool {
		return x.from == e.from && x.to == e.to && x.halfLife == e.halfLife
	})
	c.entries = append([]*topEntry{e}, c.entries[:min(len(c.entries), topCacheSize-1)]...)
}

// points is an engagement_hourly row's weighted count (analytics.Weight).
const points = `(toInt64(likes) - toInt64(unlikes) + 2 * toInt64(comments) + 3 * (toInt64(reposts) - toInt64(unreposts)))`

// openRows are the engagement rows outside the closed hours: the partial
// first hour [since, from) from raw_events and the hours from to on.
// Arguments: to, since, from.
var openRows = `SELECT hour, post_key, post_id, likes, unlikes, comments, reposts, unreposts FROM engagement_hourly
	WHERE hour >= toDateTime(?)
	UNION ALL
	SELECT toStartOfHour(at) AS hour, sipHash64(post_id) AS post_key, post_id, ` + engagementRow + ` FROM raw_events
	WHERE kind IN (` + engagementKinds + `) AND post_id != '' AND at >= toDateTime(?) AND at < toDateTime(?)`

// TopPosts ranks the posts by decayed score (see the comment above). An
// event's age counts from the start of its hour, as in every adapter; ties
// are broken by post ID among the posts returned, and by post_key (a hash
// of the ID) at the cut.
func (s *Store) TopPosts(ctx context.Context, q analytics.TopQuery) ([]analytics.PostScore, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	since := q.Since.UTC().Truncate(time.Second)
	from := since.Truncate(time.Hour)
	if from.Before(since) {
		from = from.Add(time.Hour)
	}
	to := q.Now.UTC().Truncate(time.Hour)
	halfLife := q.HalfLife.Seconds()
	if halfLife <= 0 {
		halfLife = 1e18 // no decay
	}
	if !to.After(from) {
		return s.topAll(ctx, since, from, q.Now, halfLife, q.Limit)
	}
	var (
		fp             uint64
		open           []openPost
		fpErr, openErr error
		wg             sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); fp, fpErr = s.topFingerprint(ctx, from, to) }()
	go func() { defer wg.Done(); open, openErr = s.topOpen(ctx, since, from, to, q.Now, halfLife) }()
	wg.Wait()
	if fpErr != nil {
		return nil, fpErr
	}
	if openErr != nil {
		return nil, openErr
	}
	keep := max(topKeep, 2*q.Limit)
	e := s.top.get(from.Unix(), to.Unix(), halfLife)
	if e == nil || e.fingerprint != fp || (e.keep < keep && !e.complete()) {
		var err error
		if e, err = s.topClosed(ctx, from, to, halfLife, keep, fp); err != nil {
			return nil, err
		}
		s.top.put(e)
	}
	r := ranking{entry: e, factor: math.Exp2(-float64(q.Now.Unix()-to.Unix()) / halfLife), limit: q.Limit}
	need := r.merge(open)
	if len(need) > maxNeed {
		return s.topAll(ctx, since, from, q.Now, halfLife, q.Limit)
	}
	if len(need) > 0 {
		closed, err := s.topClosedOf(ctx, from, to, halfLife, need)
		if err != nil {
			return nil, err
		}
		r.complete(closed)
	}
	if out, ok := r.result(); ok {
		return out, nil
	}
	return s.topAll(ctx, since, from, q.Now, halfLife, q.Limit)
}

// openPost is a post's open rows: its score over them seen at now (o) and
// its counts there.
type openPost struct {
	topPost
	o float64
}

// ranking merges a closed-hours entry with the open rows.
type ranking struct {
	entry  *topEntry
	factor float64 // 2^(-(now-to)/L)
	limit  int
	// cands have exact scores and counts; pending are open posts outside
	// the cached best, whose closed hours are still to be added.
	cands   map[uint64]*cand
	pending map[uint64]*cand
}

type cand struct {
	topPost
	score float64
}

// merge scores the cached best with their open rows and returns the open
// posts outside them that could still reach the top: their score is at
// most factor·A of the last cached post plus their open score (the entry
// being complete, they have no closed rows at all).
func (r *ranking) merge(open []openPost) (need []uint64) {
	r.cands = make(map[uint64]*cand, len(r.entry.best)+len(open))
	for _, b := range r.entry.best {
		r.cands[b.key] = &cand{b, r.factor * b.a}
	}
	r.pending = map[uint64]*cand{}
	for _, p := range open {
		if c, ok := r.cands[p.key]; ok {
			c.score += p.o
			c.likes, c.comments, c.reposts = c.likes+p.likes, c.comments+p.comments, c.reposts+p.reposts
			if c.id == "" {
				c.id = p.id
			}
			continue
		}
		if r.entry.complete() {
			r.cands[p.key] = &cand{p.topPost, p.o}
			continue
		}
		r.pending[p.key] = &cand{p.topPost, p.o}
	}
	if len(r.pending) == 0 {
		return nil
	}
	bound := r.factor * r.entry.best[len(r.entry.best)-1].a
	threshold := math.Inf(-1)
	if scores := r.scores(); len(scores) >= r.limit {
		threshold = scores[r.limit-1]
	}
	for k, p := range r.pending {
		if bound+p.score >= threshold {
			need = append(need, k)
		} else {
			delete(r.pending, k)
		}
	}
	return need
}

// scores are the candidates' scores, best first.
func (r *ranking) scores() []float64 {
	out := make([]float64, 0, len(r.cands))
	for _, c := range r.cands {
		out = append(out, c.score)
	}
	slices.SortFunc(out, func(a, b float64) int { return -cmpFloat(a, b) })
	return out
}

// complete adds the closed hours of the pending posts that could reach the
// top (closed: their anchored scores and counts).
func (r *ranking) complete(closed map[uint64]topPost) {
	for k, p := range r.pending {
		c := closed[k]
		p.score += r.factor * c.a
		p.likes, p.comments, p.reposts = p.likes+c.likes, p.comments+c.comments, p.reposts+c.reposts
		r.cands[k] = p
	}
}

// result is the best limit candidates; ok is false when a post outside
// them might tie or beat the last (its score is at most factor·A of the
// last cached post).
func (r *ranking) result() (out []analytics.PostScore, ok bool) {
	list := make([]*cand, 0, len(r.cands))
	for _, c := range r.cands {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *cand) int {
		if c := cmpFloat(a.score, b.score); c != 0 {
			return -c
		}
		return cmpKey(a.key, b.key)
	})
	list = list[:min(r.limit, len(list))]
	if !r.entry.complete() && (len(list) < r.limit || list[len(list)-1].score <= r.factor*r.entry.best[len(r.entry.best)-1].a) {
		return nil, false
	}
	for _, c := range list {
		out = append(out, analytics.PostScore{PostID: c.id, Score: c.score, Likes: c.likes, Comments: c.comments, Reposts: c.reposts})
	}
	sortScores(out)
	return out, true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpKey(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortScores orders best first, ties by post ID.
func sortScores(ps []analytics.PostScore) {
	slices.SortFunc(ps, func(a, b analytics.PostScore) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.PostID, b.PostID)
	})
}

// topFingerprint sums the events of the closed hours [from, to).
func (s *Store) topFingerprint(ctx context.Context, from, to time.Time) (uint64, error) {
	var fp uint64
	err := s.db.Conn.QueryRow(ctx, `SELECT sum(events) FROM engagement_hourly WHERE hour >= toDateTime(?) AND hour < toDateTime(?)`,
		from.Unix(), to.Unix()).Scan(&fp)
	if err != nil {
		return 0, fmt.Errorf("analytics: top posts: %w", err)
	}
	return fp, nil
}

// topClosed ranks the closed hours [from, to): the keep best posts by
// their score anchored at to.
func (s *Store) topClosed(ctx context.Context, from, to time.Time, halfLife float64, keep int, fp uint64) (*topEntry, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT post_key, any(post_id), sum(`+points+` * exp2((toInt64(toUInt32(hour)) - ?) / ?)) AS a, `+net+`
FROM engagement_hourly WHERE hour >= toDateTime(?) AND hour < toDateTime(?)
GROUP BY post_key ORDER BY a DESC, post_key LIMIT ?`, to.Unix(), halfLife, from.Unix(), to.Unix(), keep)
	if err != nil {
		return nil, fmt.Errorf("analytics: top posts: %w", err)
	}
	defer rows.Close()
	e := &topEntry{from: from.Unix(), to: to.Unix(), halfLife: halfLife, fingerprint: fp, keep: keep}
	for rows.Next() {
		var p topPost
		if err := rows.Scan(&p.key, &p.id, &p.a, &p.likes, &p.comments, &p.reposts); err != nil {
			return nil, err
		}
		e.best = append(e.best, p)
	}
	return e, rows.Err()
}

// topOpen reads the open rows by post: score seen at now and counts.
func (s *Store) topOpen(ctx context.Context, since, from, to, now time.Time, halfLife float64) ([]openPost, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT post_key, any(post_id), sum(`+points+` * exp2(-greatest(toInt64(?) - toInt64(toUInt32(hour)), 0) / ?)), `+net+`
FROM (`+openRows+`) GROUP BY post_key`, now.Unix(), halfLife, to.Unix(), since.Unix(), from.Unix())
	if err != nil {
		return nil, fmt.Errorf("analytics: top posts: %w", err)
	}
	defer rows.Close()
	var out []openPost
	for rows.Next() {
		var p openPost
		if err := rows.Scan(&p.key, &p.id, &p.o, &p.likes, &p.comments, &p.reposts); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// topClosedOf reads the closed hours [from, to) of the given posts:
// anchored scores and counts.
func (s *Store) topClosedOf(ctx context.Context, from, to time.Time, halfLife float64, keys []uint64) (map[uint64]topPost, error) {
	list := make([]string, len(keys))
	for i, k := range keys {
		list[i] = strconv.FormatUint(k, 10)
	}
	rows, err := s.db.Conn.Query(ctx, `SELECT post_key, sum(`+points+` * exp2((toInt64(toUInt32(hour)) - ?) / ?)), `+net+`
FROM engagement_hourly WHERE hour >= toDateTime(?) AND hour < toDateTime(?) AND post_key IN (`+strings.Join(list, ", ")+`)
GROUP BY post_key`, to.Unix(), halfLife, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("analytics: top posts: %w", err)
	}
	defer rows.Close()
	out := make(map[uint64]topPost, len(keys))
	for rows.Next() {
		var p topPost
		if err := rows.Scan(&p.key, &p.a, &p.likes, &p.comments, &p.reposts); err != nil {
			return nil, err
		}
		out[p.key] = p
	}
	return out, rows.Err()
}

// topAll ranks without the cache, over every row since since (the window
// has no closed hour, or the cache cannot rule posts out).
func (s *Store) topAll(ctx context.Context, since, from, now time.Time, halfLife float64, limit int) ([]analytics.PostScore, error) {
	rows, err := s.db.Conn.Query(ctx, `SELECT any(post_id), sum(`+points+` * exp2(-greatest(toInt64(?) - toInt64(toUInt32(hour)), 0) / ?)) AS score, `+net+`
FROM (`+openRows+`) GROUP BY post_key ORDER BY score DESC, post_key LIMIT ?`, now.Unix(), halfLife, from.Unix(), since.Unix(), from.Unix(), limit)
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
	sortScores(out)
	return out, rows.Err()
}

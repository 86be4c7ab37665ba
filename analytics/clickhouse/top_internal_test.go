package clickhouse

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storetest"
)

// TestTopPostsClosedHours checks the cached ranking of closed hours against
// the direct one (topAll) over 3 days of generated engagement, windows with
// a partial first hour and open hours, two half-lives and two limits, cold
// and warm, and after an insert into a closed hour.
func TestTopPostsClosedHours(t *testing.T) {
	db := storetest.ClickHouse(t)
	s := New(db)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	const n = 120_000
	if err := db.Conn.Exec(ctx, fmt.Sprintf(`INSERT INTO raw_events (event_id, kind, user_id, subject_id, post_id, media_id, bytes, hashtags, at)
SELECT hex(sipHash128(toString(number))),
	arrayElement(['like','like','like','unlike','comment','repost','unrepost','post'], (number %% 8) + 1),
	concat('u', toString(number %% 5000)), 'a', concat('p', toString((intHash32(number) %% 300) * (intHash32(number + 7) %% 300) %% 20000)),
	'', 0, emptyArrayString(), toDateTime(%d + intDiv(number * 3 * 86400, %d))
FROM numbers(%d)`, start.Unix(), n, n)); err != nil {
		t.Fatal(err)
	}
	end := start.Add(72 * time.Hour)
	check := func(t *testing.T, q analytics.TopQuery) {
		t.Helper()
		got, err := s.TopPosts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		since := q.Since.UTC().Truncate(time.Second)
		from := since.Truncate(time.Hour)
		if from.Before(since) {
			from = from.Add(time.Hour)
		}
		want, err := s.topAll(ctx, since, from, q.Now, q.HalfLife.Seconds(), q.Limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("TopPosts(%+v) returned %d posts, direct %d", q, len(got), len(want))
		}
		cut := want[len(want)-1].Score
		for i := range want {
			g, w := got[i], want[i]
			if math.Abs(g.Score-w.Score) > 1e-9*math.Max(1, math.Abs(w.Score)) {
				t.Fatalf("TopPosts(%+v)[%d] score %v, direct %v", q, i, g.Score, w.Score)
			}
			if math.Abs(w.Score-cut) > 1e-9 && (g.PostID != w.PostID || g.Likes != w.Likes || g.Comments != w.Comments || g.Reposts != w.Reposts) {
				t.Fatalf("TopPosts(%+v)[%d] = %+v, direct %+v", q, i, g, w)
			}
		}
	}
	queries := []analytics.TopQuery{
		{Since: start.Add(30*time.Minute + 17*time.Second), Now: end, HalfLife: 24 * time.Hour, Limit: 10},
		{Since: end.Add(-24 * time.Hour), Now: end.Add(-90 * time.Minute), HalfLife: 6 * time.Hour, Limit: 300},
		{Since: start, Now: end.Add(-20 * time.Minute), HalfLife: 24 * time.Hour, Limit: 100},
	}
	for _, q := range queries {
		check(t, q) // cold
		check(t, q) // warm
	}
	if len(s.top.entries) != len(queries) {
		t.Errorf("cache holds %d windows, want %d", len(s.top.entries), len(queries))
	}
	// A burst of likes for one post in a closed hour must show at once.
	var burst []event.Event
	for i := range 500 {
		burst = append(burst, event.New(event.Liked, fmt.Sprintf("fan-%d", i), "a", "p-new", start.Add(70*time.Hour)))
	}
	if err := s.Insert(ctx, burst); err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		check(t, q)
	}
	got, err := s.TopPosts(ctx, queries[0])
	if err != nil || len(got) == 0 || got[0].PostID != "p-new" || got[0].Likes != 500 {
		t.Errorf("after the burst, TopPosts = %+v, %v; want p-new first with 500 likes", got[:min(1, len(got))], err)
	}
}

// Package analytics owns engagement analytics: the event store port, its
// schema and the queries behind AnalyticsService and trending, the buffered
// ingestion writer that every domain event goes through (Ingester), and the
// decay and day arithmetic the adapters share. The Store port is implemented
// by the sqlite (embedded) and clickhouse (scale) adapters.
//
// Duplicates: an event's ID is derived from what happened, and producers may
// publish the same event twice (a CreatePost retry, a media activity retry,
// a replayed spill file, a backfill — package backfill rebuilds events with
// the IDs the live path gives them). Every figure is therefore counted over
// distinct event IDs: SQLite drops a repeated ID on insert (primary key);
// ClickHouse, which has no unique keys nor insert deduplication for
// non-replicated tables, looks each batch up and inserts only the events it
// does not hold yet (its package comment says how far that is exactly once).
package analytics

import (
	"context"
	"math"
	"time"

	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "analytics"

// Day is a UTC calendar day, as the midnight that starts it.
type Day = time.Time

// DayCount is a number of one day.
type DayCount struct {
	Day Day
	N   int64
}

// EngagementDay is a post's net engagement on one day: likes minus unlikes,
// comments, reposts minus undone reposts.
type EngagementDay struct {
	Day                      Day
	Likes, Comments, Reposts int64
}

// GrowthDay is the follows a user gained and lost on one day.
type GrowthDay struct {
	Day          Day
	Gained, Lost int64
}

// UploadDay is the completed media uploads of one day.
type UploadDay struct {
	Day            Day
	Uploads, Bytes int64
}

// PostScore is a post's engagement over a window: net counts and a score
// where every engagement weighs Weight(kind), halved every half-life of age.
type PostScore struct {
	PostID                   string
	Score                    float64
	Likes, Comments, Reposts int64
}

// TagCount is how many distinct posts used a hashtag.
type TagCount struct {
	Tag   string
	Posts int64
}

// TopQuery asks for the best-scored posts of engagement at or after Since,
// aged as of Now with HalfLife.
type TopQuery struct {
	Since, Now time.Time
	HalfLife   time.Duration
	Limit      int
}

// Store is the analytics port. Every adapter passes the conformance suite
// storetest.AnalyticsStore. Day ranges are [from, to) with both at UTC
// midnight; results are sparse (days without activity are left out; Fill*
// below adds them) and oldest first.
type Store interface {
	storage.Store
	// Insert stores events. An ID already stored is not counted again
	// (now or after a merge); events without an ID are refused.
	Insert(ctx context.Context, events []event.Event) error
	// DailyActiveUsers counts the distinct actors of each day. The
	// ClickHouse adapter's count is exact up to about 4,000 users a day and
	// within 1% above (uniqCombined(16)).
	DailyActiveUsers(ctx context.Context, from, to Day) ([]DayCount, error)
	// PostEngagement returns a post's net engagement per day, all time.
	PostEngagement(ctx context.Context, postID string) ([]EngagementDay, error)
	// FollowerGrowth returns the follows userID gained and lost per day of
	// [from, to), and base, the net follows gained before from.
	FollowerGrowth(ctx context.Context, userID string, from, to Day) (base int64, days []GrowthDay, err error)
	// MediaUploads counts completed uploads and their bytes per day.
	MediaUploads(ctx context.Context, from, to Day) ([]UploadDay, error)
	// TopPosts returns the posts with the highest decayed score of the
	// engagement since q.Since, best first (ties by post ID; the ClickHouse
	// adapter breaks a tie at the cut by a hash of the ID), at most q.Limit.
	TopPosts(ctx context.Context, q TopQuery) ([]PostScore, error)
	// TrendingHashtags returns the hashtags of the most distinct public
	// posts created since, most used first (ties by tag), at most limit.
	TrendingHashtags(ctx context.Context, since time.Time, limit int) ([]TagCount, error)
}

// Weight is what one event of kind adds to a post's score (0 for kinds
// that are no engagement).
func Weight(kind event.Kind) float64 {
	switch kind {
	case event.Liked:
		return 1
	case event.Unliked:
		return -1
	case event.Commented:
		return 2
	case event.Reposted:
		return 3
	case event.RepostUndone:
		return -3
	}
	return 0
}

// EngagementKinds are the kinds that count towards a post's engagement.
// Quotes do not: a quote event names the quoting post, not the quoted one.
var EngagementKinds = []event.Kind{event.Liked, event.Unliked, event.Commented, event.Reposted, event.RepostUndone}

// Decay is the weight left after age with halfLife (1 at age 0; ages in
// the future count as 0).
func Decay(age, halfLife time.Duration) float64 {
	if age < 0 {
		age = 0
	}
	if halfLife <= 0 {
		return 1
	}
	return math.Exp2(-age.Hours() / halfLife.Hours())
}

// Engagement is a post's net totals; engagement days are kept as they are.
func Engagement(days []EngagementDay) (likes, comments, reposts int64) {
	for _, d := range days {
		likes += d.Likes
		comments += d.Comments
		reposts += d.Reposts
	}
	return likes, comments, reposts
}

// Floor is the UTC midnight that starts t's day.
func Floor(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Ceil is the first UTC midnight at or after t.
func Ceil(t time.Time) Day {
	f := Floor(t)
	if f.Equal(t) {
		return f
	}
	return f.AddDate(0, 0, 1)
}

// Days lists the days of [from, to).
func Days(from, to Day) []Day {
	var out []Day
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// FillCounts returns one DayCount per day of [from, to), zero where sparse
// has none.
func FillCounts(sparse []DayCount, from, to Day) []DayCount {
	by := map[int64]int64{}
	for _, p := range sparse {
		by[p.Day.Unix()] += p.N
	}
	var out []DayCount
	for _, d := range Days(from, to) {
		out = append(out, DayCount{Day: d, N: by[d.Unix()]})
	}
	return out
}

// FillUploads returns one UploadDay per day of [from, to).
func FillUploads(sparse []UploadDay, from, to Day) []UploadDay {
	by := map[int64]UploadDay{}
	for _, p := range sparse {
		by[p.Day.Unix()] = p
	}
	var out []UploadDay
	for _, d := range Days(from, to) {
		p := by[d.Unix()]
		out = append(out, UploadDay{Day: d, Uploads: p.Uploads, Bytes: p.Bytes})
	}
	return out
}

// GrowthPoint is a user's followers at the end of a day with that day's
// gains and losses.
type GrowthPoint struct {
	Day                     Day
	Followers, Gained, Lost int64
}

// Growth turns FollowerGrowth's answer into one point per day of [from,
// to), with the running follower count (never below zero: follows made
// before analytics started would otherwise show as negative).
func Growth(base int64, sparse []GrowthDay, from, to Day) []GrowthPoint {
	by := map[int64]GrowthDay{}
	for _, p := range sparse {
		by[p.Day.Unix()] = p
	}
	n := base
	var out []GrowthPoint
	for _, d := range Days(from, to) {
		p := by[d.Unix()]
		n += p.Gained - p.Lost
		out = append(out, GrowthPoint{Day: d, Followers: max(n, 0), Gained: p.Gained, Lost: p.Lost})
	}
	return out
}

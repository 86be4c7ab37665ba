package storetest

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storage"
)

// AnalyticsDay0 is the first day of AnalyticsEvents.
var AnalyticsDay0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

// AnalyticsEvents is the known event set the analytics suite (and the
// end-to-end tests) check every view against; the expected figures are
// spelled out in AnalyticsStore. Users u1…u9, posts p1 and p2, three days
// from AnalyticsDay0.
func AnalyticsEvents() []event.Event {
	d := func(day, h, m int) time.Time {
		return AnalyticsDay0.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	post := func(actor, id, tags string, at time.Time) event.Event {
		e := event.New(event.PostCreated, actor, "", id, at)
		e.Hashtags = tags
		return e
	}
	return []event.Event{
		// Day 0.
		post("u1", "p1", "go rust", d(0, 10, 15)),
		event.New(event.Liked, "u2", "u1", "p1", d(0, 10, 20)),
		event.New(event.Liked, "u6", "u1", "p1", d(0, 10, 45)),
		event.New(event.Liked, "u3", "u1", "p1", d(0, 11, 5)),
		event.New(event.Commented, "u2", "u1", "p1", d(0, 11, 30)),
		event.New(event.Followed, "u2", "u1", "", d(0, 12, 0)),
		event.New(event.Followed, "u3", "u1", "", d(0, 12, 1)),
		event.NewMedia(event.MediaUploaded, "u1", "m1", 1000, d(0, 13, 0)),
		event.NewMedia(event.MediaUploaded, "u2", "m2", 500, d(0, 13, 30)),
		// Day 1.
		event.New(event.Unliked, "u2", "u1", "p1", d(1, 9, 0)),
		event.New(event.Reposted, "u4", "u1", "p1", d(1, 9, 10)),
		event.New(event.Followed, "u4", "u1", "", d(1, 9, 20)),
		// Day 2.
		event.New(event.Unfollowed, "u3", "u1", "", d(2, 8, 0)),
		post("u3", "p2", "go", d(2, 8, 30)),
		event.New(event.Quoted, "u3", "u1", "p2", d(2, 8, 30)),
		event.NewMedia(event.MediaUploaded, "u1", "m3", 250, d(2, 9, 0)),
		event.New(event.SignedIn, "u9", "", "", d(2, 10, 0)),
		event.New(event.TimelineViewed, "u8", "", "", d(2, 10, 5)),
		// A private post's event carries no hashtags.
		event.New(event.PostCreated, "u5", "", "p3", d(2, 11, 0)),
	}
}

// AnalyticsStore is the conformance suite of the analytics port: every view
// over AnalyticsEvents, inserted twice and partly a third time (duplicates
// must not count), against figures worked out by hand.
func AnalyticsStore(t *testing.T, open func(t *testing.T) analytics.Store) {
	Lifecycle(t, analytics.Component, func(t *testing.T) storage.Store { return open(t) })
	s, c := migrated(t, open)
	evs := AnalyticsEvents()
	// u4 signs up on day 1 (already active that day). Sign-ups and uploads
	// have IDs that do not depend on the time, so their reports again on a
	// later day (a retried activity, a backfill) are the same events and
	// must not make u4, u1 or the uploads count on days 2 and 1.
	signUp := event.NewOnce(event.SignedUp, "u4", AnalyticsDay0.AddDate(0, 0, 1).Add(8*time.Hour))
	again := []event.Event{
		event.NewOnce(event.SignedUp, "u4", AnalyticsDay0.AddDate(0, 0, 2).Add(9*time.Hour)),
		event.NewMedia(event.MediaUploaded, "u1", "m1", 1000, AnalyticsDay0.AddDate(0, 0, 1).Add(14*time.Hour)),
	}
	for _, batch := range [][]event.Event{append(evs, signUp), evs, evs[3:6], {evs[7]}, again, append(again, evs[0])} {
		if err := s.Insert(c, batch); err != nil {
			t.Fatalf("Insert: %v", err)
		}
	}
	if err := s.Insert(c, []event.Event{{Kind: event.Liked, ActorID: "x"}}); err == nil {
		t.Errorf("Insert of an event without ID succeeded")
	}
	day := func(n int) analytics.Day { return AnalyticsDay0.AddDate(0, 0, n) }
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s =\n  %+v\nwant\n  %+v", what, got, want)
		}
	}

	t.Run("daily active users", func(t *testing.T) {
		got, err := s.DailyActiveUsers(c, day(-1), day(4))
		if err != nil {
			t.Fatal(err)
		}
		check("DailyActiveUsers", got, []analytics.DayCount{{Day: day(0), N: 4}, {Day: day(1), N: 2}, {Day: day(2), N: 5}})
		got, err = s.DailyActiveUsers(c, day(1), day(2))
		if err != nil {
			t.Fatal(err)
		}
		check("DailyActiveUsers(day 1)", got, []analytics.DayCount{{Day: day(1), N: 2}})
	})

	t.Run("post engagement", func(t *testing.T) {
		got, err := s.PostEngagement(c, "p1")
		if err != nil {
			t.Fatal(err)
		}
		check("PostEngagement(p1)", got, []analytics.EngagementDay{
			{Day: day(0), Likes: 3, Comments: 1}, {Day: day(1), Likes: -1, Reposts: 1}})
		if l, cm, r := analytics.Engagement(got); l != 2 || cm != 1 || r != 1 {
			t.Errorf("totals = %d/%d/%d, want 2/1/1", l, cm, r)
		}
		got, err = s.PostEngagement(c, "p2")
		if err != nil || len(got) != 0 {
			t.Errorf("PostEngagement(p2) = %v, %v; want none (quotes count for no post)", got, err)
		}
	})

	t.Run("follower growth", func(t *testing.T) {
		base, got, err := s.FollowerGrowth(c, "u1", day(0), day(3))
		if err != nil {
			t.Fatal(err)
		}
		if base != 0 {
			t.Errorf("base = %d, want 0", base)
		}
		check("FollowerGrowth", got, []analytics.GrowthDay{{Day: day(0), Gained: 2}, {Day: day(1), Gained: 1}, {Day: day(2), Lost: 1}})
		check("Growth", analytics.Growth(base, got, day(0), day(4)), []analytics.GrowthPoint{
			{Day: day(0), Followers: 2, Gained: 2}, {Day: day(1), Followers: 3, Gained: 1}, {Day: day(2), Followers: 2, Lost: 1}, {Day: day(3), Followers: 2}})
		base, got, err = s.FollowerGrowth(c, "u1", day(1), day(2))
		if err != nil {
			t.Fatal(err)
		}
		if base != 2 {
			t.Errorf("base before day 1 = %d, want 2", base)
		}
		check("FollowerGrowth(day 1)", got, []analytics.GrowthDay{{Day: day(1), Gained: 1}})
		if base, got, err := s.FollowerGrowth(c, "u2", day(0), day(3)); err != nil || base != 0 || len(got) != 0 {
			t.Errorf("FollowerGrowth(u2) = %d, %v, %v; want nothing", base, got, err)
		}
	})

	t.Run("media uploads", func(t *testing.T) {
		got, err := s.MediaUploads(c, day(0), day(3))
		if err != nil {
			t.Fatal(err)
		}
		check("MediaUploads", got, []analytics.UploadDay{{Day: day(0), Uploads: 2, Bytes: 1500}, {Day: day(2), Uploads: 1, Bytes: 250}})
	})

	t.Run("top posts", func(t *testing.T) {
		now := day(2).Add(12 * time.Hour)
		hour := func(d, h int) time.Time { return day(d).Add(time.Duration(h) * time.Hour) }
		decay := func(at time.Time) float64 { return analytics.Decay(now.Sub(at), 24*time.Hour) }
		for _, tc := range []struct {
			since time.Time
			want  analytics.PostScore
		}{
			{day(0), analytics.PostScore{PostID: "p1", Likes: 2, Comments: 1, Reposts: 1,
				Score: 2*decay(hour(0, 10)) + 1*decay(hour(0, 11)) + 2*decay(hour(0, 11)) - decay(hour(1, 9)) + 3*decay(hour(1, 9))}},
			// Since mid-hour: the like at 10:20 is out, the one at 10:45 in.
			{day(0).Add(10*time.Hour + 30*time.Minute), analytics.PostScore{PostID: "p1", Likes: 1, Comments: 1, Reposts: 1,
				Score: 1*decay(hour(0, 10)) + 1*decay(hour(0, 11)) + 2*decay(hour(0, 11)) - decay(hour(1, 9)) + 3*decay(hour(1, 9))}},
			{day(1), analytics.PostScore{PostID: "p1", Likes: -1, Reposts: 1, Score: 2 * decay(hour(1, 9))}},
		} {
			got, err := s.TopPosts(c, analytics.TopQuery{Since: tc.since, Now: now, HalfLife: 24 * time.Hour, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("TopPosts(since %s) = %+v, want p1 only", tc.since, got)
			}
			if math.Abs(got[0].Score-tc.want.Score) > 1e-9 {
				t.Errorf("TopPosts(since %s) score = %v, want %v", tc.since, got[0].Score, tc.want.Score)
			}
			got[0].Score = tc.want.Score
			check(fmt.Sprintf("TopPosts(since %s)", tc.since), got[0], tc.want)
		}
		if got, err := s.TopPosts(c, analytics.TopQuery{Since: day(3), Now: now, HalfLife: time.Hour, Limit: 10}); err != nil || len(got) != 0 {
			t.Errorf("TopPosts(since day 3) = %v, %v; want none", got, err)
		}
	})

	t.Run("ranking", func(t *testing.T) {
		// A second store: 5 posts with 1…5 likes in the same hour rank 5…1;
		// limit cuts.
		s2, c2 := migrated(t, open)
		at := AnalyticsDay0.Add(30 * time.Minute)
		var batch []event.Event
		for p := 1; p <= 5; p++ {
			for u := range p {
				batch = append(batch, event.New(event.Liked, fmt.Sprintf("u%d", u), "a", fmt.Sprintf("q%d", p), at))
			}
		}
		if err := s2.Insert(c2, batch); err != nil {
			t.Fatal(err)
		}
		got, err := s2.TopPosts(c2, analytics.TopQuery{Since: AnalyticsDay0, Now: AnalyticsDay0.Add(time.Hour), HalfLife: time.Hour, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, fmt.Sprintf("%s:%d", p.PostID, p.Likes))
		}
		check("TopPosts ranking", ids, []string{"q5:5", "q4:4", "q3:3"})
	})

	t.Run("trending hashtags", func(t *testing.T) {
		got, err := s.TrendingHashtags(c, day(0), 10)
		if err != nil {
			t.Fatal(err)
		}
		check("TrendingHashtags(day 0)", got, []analytics.TagCount{{Tag: "go", Posts: 2}, {Tag: "rust", Posts: 1}})
		got, err = s.TrendingHashtags(c, day(0), 1)
		if err != nil {
			t.Fatal(err)
		}
		check("TrendingHashtags(limit 1)", got, []analytics.TagCount{{Tag: "go", Posts: 2}})
		// since is rounded down to its hour: 08:59 on day 2 counts p2 (08:30).
		got, err = s.TrendingHashtags(c, day(2).Add(8*time.Hour+59*time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		check("TrendingHashtags(day 2)", got, []analytics.TagCount{{Tag: "go", Posts: 1}})
	})
}

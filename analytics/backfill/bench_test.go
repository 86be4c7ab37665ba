package backfill_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics/backfill"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storetest"
)

// BenchmarkBackfill times one backfill of a generated platform into an
// empty analytics store, per profile, and reports events/s (seeding is not
// timed). EJAZZ_BENCH_USERS sets the size (default 2,000 users on the
// embedded profile, 200 on the scale one, whose Cassandra likes are
// lightweight transactions): per user 4 posts, 12 likes, 2 reposts, 4
// comments, 10 follows and 1 upload, about 35 events.
//
//	go test -run '^$' -bench Backfill -benchtime 1x -timeout 30m ./analytics/backfill/
func BenchmarkBackfill(b *testing.B) {
	for _, p := range profiles {
		b.Run(p.name, func(b *testing.B) {
			users := 2000
			if p.name == "scale" {
				users = 200
			}
			if v, err := strconv.Atoi(os.Getenv("EJAZZ_BENCH_USERS")); err == nil && v > 0 {
				users = v
			}
			src, an := p.open(b)
			t0 := time.Now()
			generatePlatform(b, src, users)
			b.Logf("seeded %d users in %s", users, time.Since(t0).Round(time.Millisecond))
			b.ResetTimer()
			var st backfill.Stats
			for range b.N {
				var err error
				if st, err = backfill.Run(context.Background(), src, an, backfill.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(st.TotalEvents())/st.Elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(st.TotalEvents()), "events")
		})
	}
}

// runID keeps one run's generated IDs apart from earlier runs' in shared engines.
var runID = storetest.UniqueName("r")

// generatePlatform writes users accounts with posts, likes, reposts,
// comments, follows (users seed's graph only, see ownFollows) and uploads
// over 30 days.
func generatePlatform(b *testing.B, src backfill.Sources, users int) {
	c := context.Background()
	start := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	when := func(i int) time.Time { return start.Add(time.Duration(i) * 37 * time.Second) }
	id := func(kind string, i int) string { return fmt.Sprintf("bench-%s-%s-%07d", runID, kind, i) }
	for u := range users {
		seeded[id("u", u)] = true
		a := account.Account{ID: id("u", u), Email: id("u", u) + "@example.test", Handle: fmt.Sprintf("b%s%d", runID[:6], u), PasswordHash: "x", CreatedAt: when(u)}
		if err := src.Accounts.Create(c, a); err != nil {
			b.Fatal(err)
		}
		if _, err := src.Graph.PutUser(c, a.ID, false); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = src.Graph.DeleteUser(context.Background(), a.ID) })
	}
	for p := range users * 4 {
		author := id("u", p%users)
		if _, _, err := src.Posts.Create(c, post.Post{ID: id("p", p), AuthorID: author, Text: "#bench", Visibility: post.Public,
			Hashtags: []string{"bench" + strconv.Itoa(p%50)}, CreatedAt: when(users + p).Truncate(time.Millisecond)}, ""); err != nil {
			b.Fatal(err)
		}
	}
	for i := range users * 12 {
		if _, err := src.Posts.Like(c, id("p", (i*7919)%(users*4)), id("u", i%users), when(5*users+i)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range users * 2 {
		if _, err := src.Posts.Repost(c, id("p", (i*104729)%(users*4)), id("u", i%users), when(20*users+i)); err != nil {
			b.Fatal(err)
		}
	}
	for i := range users * 4 {
		if err := src.Posts.AddComment(c, post.Comment{ID: id("c", i), PostID: id("p", (i*31)%(users*4)), AuthorID: id("u", (i*17)%users),
			Text: "nice", CreatedAt: when(25*users + i)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range users * 10 {
		from, to := id("u", i%users), id("u", (i/users*7+i%users+1)%users)
		if from == to {
			continue
		}
		if _, _, err := src.Graph.Follow(graph.WithTime(c, when(30*users+i)), from, to); err != nil {
			b.Fatal(err)
		}
	}
	for i := range users {
		if err := src.Media.Create(c, media.Media{ID: id("m", i), OwnerID: id("u", i), Status: media.Ready, DeclaredType: "image/png",
			ContentType: "image/png", Size: int64(1000 + i), CreatedAt: when(40*users + i)}); err != nil {
			b.Fatal(err)
		}
	}
}

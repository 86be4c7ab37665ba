package backfill_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/backfill"
	analyticsch "github.com/ejazz/ejazz/analytics/clickhouse"
	analyticssqlite "github.com/ejazz/ejazz/analytics/sqlite"
	"github.com/ejazz/ejazz/internal/account"
	accountpg "github.com/ejazz/ejazz/internal/account/postgres"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	graphneo4j "github.com/ejazz/ejazz/internal/graph/neo4j"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/media"
	mediapg "github.com/ejazz/ejazz/internal/media/postgres"
	mediasqlite "github.com/ejazz/ejazz/internal/media/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	postcass "github.com/ejazz/ejazz/internal/post/cassandra"
	postsqlite "github.com/ejazz/ejazz/internal/post/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
)

// profile opens migrated sources and an analytics store on one profile.
type profile struct {
	name string
	// batch is small on the embedded profile, to page through every
	// source; the scale profile's Neo4j is shared with other tests.
	batch int
	open  func(t testing.TB) (backfill.Sources, analytics.Store)
}

func migrate(t testing.TB, stores ...storage.Store) {
	t.Helper()
	for _, s := range stores {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate %s: %v", s.Name(), err)
		}
	}
}

var profiles = []profile{
	{"embedded", 2, func(t testing.TB) (backfill.Sources, analytics.Store) {
		src := backfill.Sources{
			Accounts: accountsqlite.New(storetest.SQLite(t)), Posts: postsqlite.New(storetest.SQLite(t)),
			Graph: graphsqlite.New(storetest.SQLite(t)), Media: mediasqlite.New(storetest.SQLite(t)),
		}
		an := analyticssqlite.New(storetest.SQLite(t))
		migrate(t, src.Accounts, src.Posts, src.Graph, src.Media, an)
		return src, an
	}},
	{"scale", 5000, func(t testing.TB) (backfill.Sources, analytics.Store) {
		src := backfill.Sources{
			Accounts: accountpg.New(storetest.Postgres(t)), Posts: postcass.New(storetest.Cassandra(t)),
			Graph: ownFollows{graphneo4j.New(storetest.Neo4j(t))}, Media: mediapg.New(storetest.Postgres(t)),
		}
		an := analyticsch.New(storetest.ClickHouse(t))
		migrate(t, src.Accounts, src.Posts, src.Graph, src.Media, an)
		return src, an
	}},
}

// ownFollows is the shared Neo4j database seen by one test: ScanFollows
// leaves out the follows of other tests' users (seed's IDs start with "u1_",
// "u2_" or "u3_" and a random part).
type ownFollows struct{ graph.Store }

func (g ownFollows) ScanFollows(ctx context.Context, cursor string, limit int) ([]graph.FollowEdge, string, error) {
	es, next, err := g.Store.ScanFollows(ctx, cursor, limit)
	var out []graph.FollowEdge
	for _, e := range es {
		if seeded[e.From] || seeded[e.To] {
			out = append(out, e)
		}
	}
	return out, next, err
}

// seeded holds the user IDs seed made (tests of this package run one at a time).
var seeded = map[string]bool{}

// day0 is long before anything other tests leave in shared engines (the
// Neo4j database), so their follows never fall on the days checked here.
var day0 = time.Date(2019, 5, 6, 0, 0, 0, 0, time.UTC)

func at(day, h, m int) time.Time {
	return day0.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// seed writes a small platform into the sources, as the services would,
// and returns the events the live path published for it (the post service
// keeps milliseconds; follows carry the graph's time through
// graph.WithTime), plus events the stores do not keep (an unlike, a
// sign-in) that the backfill cannot know.
func seed(t *testing.T, src backfill.Sources) (ids map[string]string, live []event.Event) {
	t.Helper()
	c := context.Background()
	ids = map[string]string{}
	for _, n := range []string{"u1", "u2", "u3", "p1", "p2", "p3", "p4", "m1", "m2", "c1", "c2"} {
		ids[n] = storetest.UniqueName(n)
	}
	for i, u := range []string{"u1", "u2", "u3"} {
		seeded[ids[u]] = true
		t.Cleanup(func() { _ = src.Graph.DeleteUser(context.Background(), ids[u]) })
		a := account.Account{ID: ids[u], Email: ids[u] + "@example.test", Handle: ids[u], PasswordHash: "x", CreatedAt: at(0, 8, i)}
		if err := src.Accounts.Create(c, a); err != nil {
			t.Fatal(err)
		}
		live = append(live, event.NewOnce(event.SignedUp, a.ID, a.CreatedAt.Add(time.Millisecond))) // the API's clock, a moment later
		if _, err := src.Graph.PutUser(c, ids[u], false); err != nil {
			t.Fatal(err)
		}
	}
	mkPost := func(p post.Post) {
		t.Helper()
		if _, _, err := src.Posts.Create(c, p, ""); err != nil {
			t.Fatal(err)
		}
		created := event.New(event.PostCreated, p.AuthorID, "", p.ID, p.CreatedAt)
		if p.Visibility == post.Public {
			created.Hashtags = fmt.Sprint(p.Hashtags[0])
		}
		live = append(live, created)
	}
	mkPost(post.Post{ID: ids["p1"], AuthorID: ids["u1"], Text: "#go", Visibility: post.Public, Hashtags: []string{"go"}, CreatedAt: at(0, 9, 0)})
	mkPost(post.Post{ID: ids["p2"], AuthorID: ids["u2"], Text: "@u1 #go", Visibility: post.Public, Hashtags: []string{"go"},
		Mentions: []string{ids["u1"]}, QuotePostID: ids["p1"], CreatedAt: at(1, 9, 0)})
	live = append(live, event.New(event.Quoted, ids["u2"], ids["u1"], ids["p2"], at(1, 9, 0)), event.New(event.Mentioned, ids["u2"], ids["u1"], ids["p2"], at(1, 9, 0)))
	mkPost(post.Post{ID: ids["p3"], AuthorID: ids["u3"], Text: "#secret", Visibility: post.OnlyMe, Hashtags: []string{"secret"}, CreatedAt: at(1, 10, 0)})
	mkPost(post.Post{ID: ids["p4"], AuthorID: ids["u3"], Text: "gone", Visibility: post.Public, Hashtags: []string{"gone"}, CreatedAt: at(1, 11, 0)})
	if _, _, err := src.Posts.Delete(c, ids["p4"]); err != nil {
		t.Fatal(err)
	}
	engage := func(kind event.Kind, user, p string, when time.Time) {
		t.Helper()
		var err error
		if kind == event.Liked {
			_, err = src.Posts.Like(c, ids[p], ids[user], when)
		} else {
			_, err = src.Posts.Repost(c, ids[p], ids[user], when)
		}
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, event.New(kind, ids[user], ids["u1"], ids[p], when))
	}
	engage(event.Liked, "u2", "p1", at(0, 10, 0).Add(123*time.Millisecond))
	engage(event.Liked, "u3", "p1", at(1, 10, 0))
	engage(event.Reposted, "u3", "p1", at(1, 10, 5))
	live = append(live, event.New(event.Unliked, ids["u3"], ids["u1"], ids["p1"], at(2, 7, 0)),
		event.New(event.Liked, ids["u3"], ids["u1"], ids["p1"], at(2, 7, 30))) // unliked, liked again: the store keeps the second
	if _, err := src.Posts.Unlike(c, ids["p1"], ids["u3"]); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Posts.Like(c, ids["p1"], ids["u3"], at(2, 7, 30)); err != nil {
		t.Fatal(err)
	}
	cm := post.Comment{ID: ids["c1"], PostID: ids["p1"], AuthorID: ids["u2"], Text: "nice", CreatedAt: at(0, 11, 0)}
	reply := post.Comment{ID: ids["c2"], PostID: ids["p1"], AuthorID: ids["u1"], ParentID: ids["c1"], Text: "thanks", CreatedAt: at(0, 11, 30)}
	for _, x := range []post.Comment{cm, reply} {
		if err := src.Posts.AddComment(c, x); err != nil {
			t.Fatal(err)
		}
		live = append(live, event.New(event.Commented, x.AuthorID, ids["u1"], x.PostID, x.CreatedAt))
	}
	follow := func(from, to string, when time.Time) {
		t.Helper()
		if _, _, err := src.Graph.Follow(graph.WithTime(c, when), ids[from], ids[to]); err != nil {
			t.Fatal(err)
		}
		live = append(live, event.New(event.Followed, ids[from], ids[to], "", when))
	}
	follow("u2", "u1", at(0, 12, 0).Add(456789*time.Nanosecond))
	follow("u3", "u1", at(1, 12, 0))
	live = append(live, event.New(event.SignedIn, ids["u1"], "", "", at(2, 8, 0)))
	for i, m := range []media.Media{
		{ID: ids["m1"], OwnerID: ids["u1"], Status: media.Ready, Size: 1000, CreatedAt: at(0, 13, 0), UpdatedAt: at(0, 13, 1)},
		{ID: ids["m2"], OwnerID: ids["u2"], Status: media.Failed, Size: 500, CreatedAt: at(0, 14, 0)},
	} {
		m.DeclaredType, m.ContentType = "image/png", "image/png"
		if err := src.Media.Create(c, m); err != nil {
			t.Fatal(err)
		}
		if i == 0 { // reported by the pipeline when it finished, a moment after
			live = append(live, event.NewMedia(event.MediaUploaded, m.OwnerID, m.ID, m.Size, m.UpdatedAt.Add(20*time.Millisecond)))
		}
	}
	return ids, live
}

// views reads every figure over the seeded days.
func views(t *testing.T, s analytics.Store, ids map[string]string) string {
	t.Helper()
	c := context.Background()
	dau, err := s.DailyActiveUsers(c, day0, day0.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := s.PostEngagement(c, ids["p1"])
	if err != nil {
		t.Fatal(err)
	}
	base, growth, err := s.FollowerGrowth(c, ids["u1"], day0, day0.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.MediaUploads(c, day0, day0.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	top, err := s.TopPosts(c, analytics.TopQuery{Since: day0, Now: at(3, 0, 0), HalfLife: 24 * time.Hour, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	tags, err := s.TrendingHashtags(c, day0, 10)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("dau %v\nengagement %v\ngrowth %d %v\nuploads %v\ntop %v\ntags %v", dau, eng, base, growth, up, top, tags)
}

// TestBackfill rebuilds the seeded platform's events on each profile and
// checks the views, then that live events plus two more backfills change
// nothing, and that Since and Until bound the events.
func TestBackfill(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			src, an := p.open(t)
			ids, live := seed(t, src)
			c := context.Background()
			var progress []backfill.Progress
			st, err := backfill.Run(c, src, an, backfill.Options{BatchSize: p.batch, Progress: func(pr backfill.Progress) { progress = append(progress, pr) }})
			if err != nil {
				t.Fatal(err)
			}
			// Sign-ups 3; posts 3 (+ a quote and a mention); engagement 3;
			// comments 2; follows 2 (more in a shared Neo4j); media 1.
			for src, want := range map[string]int64{"accounts": 3, "posts": 5, "engagement": 3, "comments": 2, "media": 1} {
				if got := st.Events[src]; got != want && !(p.name == "scale" && src == "accounts" && got >= want) {
					t.Errorf("%s events = %d, want %d (%+v)", src, got, want, st)
				}
			}
			if st.Events["follows"] < 2 || len(progress) == 0 || progress[len(progress)-1].Source != "media" {
				t.Errorf("follows = %d, progress %v", st.Events["follows"], progress)
			}
			got := views(t, an, ids)
			// Day 0: the three sign-ups, u1's post, reply and upload, u2's
			// like, comment and follow; day 1: u2's quote, u3's private post,
			// repost and follow; day 2: u3's like (it unliked and liked again).
			wantDAU := []analytics.DayCount{{Day: day0, N: 3}, {Day: day0.AddDate(0, 0, 1), N: 2}, {Day: day0.AddDate(0, 0, 2), N: 1}}
			if dau, _ := an.DailyActiveUsers(c, day0, day0.AddDate(0, 0, 3)); !reflect.DeepEqual(dau, wantDAU) {
				t.Errorf("DAU after the backfill = %v, want %v", dau, wantDAU)
			}
			eng, _ := an.PostEngagement(c, ids["p1"])
			if l, cm, r := analytics.Engagement(eng); l != 2 || cm != 2 || r != 1 {
				t.Errorf("engagement of p1 = %d/%d/%d, want 2 likes, 2 comments, 1 repost", l, cm, r)
			}
			if base, growth, _ := an.FollowerGrowth(c, ids["u1"], day0, day0.AddDate(0, 0, 3)); base != 0 || !reflect.DeepEqual(growth, []analytics.GrowthDay{
				{Day: day0, Gained: 1}, {Day: day0.AddDate(0, 0, 1), Gained: 1}}) {
				t.Errorf("follower growth of u1 = %d %v", base, growth)
			}
			if up, _ := an.MediaUploads(c, day0, day0.AddDate(0, 0, 3)); !reflect.DeepEqual(up, []analytics.UploadDay{{Day: day0, Uploads: 1, Bytes: 1000}}) {
				t.Errorf("uploads = %v, want 1 of 1000 bytes on day 0", up)
			}
			if tags, _ := an.TrendingHashtags(c, day0, 10); !reflect.DeepEqual(tags, []analytics.TagCount{{Tag: "go", Posts: 2}}) {
				t.Errorf("hashtags = %v, want go: 2 (not the private post's, not the deleted one's)", tags)
			}

			// The live events, then two more backfills: only what the stores
			// do not keep (the unlike and the like before it, the sign-in)
			// may move a figure.
			if err := an.Insert(c, live); err != nil {
				t.Fatal(err)
			}
			withLive := views(t, an, ids)
			for i := range 2 {
				if _, err := backfill.Run(c, src, an, backfill.Options{BatchSize: p.batch + 1}); err != nil {
					t.Fatal(err)
				}
				if again := views(t, an, ids); again != withLive {
					t.Errorf("backfill %d over live events moved the views:\n%s\nwant\n%s", i+2, again, withLive)
				}
			}
			if got == withLive {
				t.Errorf("the live-only events (unlike, sign-in) changed nothing: %s", got)
			}
			eng, _ = an.PostEngagement(c, ids["p1"])
			if l, _, _ := analytics.Engagement(eng); l != 2 || len(eng) != 3 {
				t.Errorf("p1 with the live like, unlike and like again = %v, want 2 likes over 3 days", eng)
			}

			// Since and Until: a fresh store gets only what happened on day 1.
			_, an2 := p.open(t)
			if _, err := backfill.Run(c, src, an2, backfill.Options{BatchSize: p.batch, Since: day0.AddDate(0, 0, 1), Until: day0.AddDate(0, 0, 2)}); err != nil {
				t.Fatal(err)
			}
			if dau, _ := an2.DailyActiveUsers(c, day0, day0.AddDate(0, 0, 3)); !reflect.DeepEqual(dau, wantDAU[1:2]) {
				t.Errorf("DAU of a backfill of day 1 = %v, want %v", dau, wantDAU[1:2])
			}
		})
	}
}

package postapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/graph"
	graphneo4j "github.com/ejazz/ejazz/internal/graph/neo4j"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	postcass "github.com/ejazz/ejazz/internal/post/cassandra"
	"github.com/ejazz/ejazz/internal/post/postapi"
	postsqlite "github.com/ejazz/ejazz/internal/post/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	profilepg "github.com/ejazz/ejazz/internal/profile/postgres"
	profilesqlite "github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

// profiles of the benchmark: the embedded one (SQLite) and the scale one
// (PostgreSQL profiles, Neo4j graph, Cassandra posts from dev/stack).
var profiles = map[string]func(b *testing.B) (profile.Store, graph.Store, post.Store){
	"embedded": func(b *testing.B) (profile.Store, graph.Store, post.Store) {
		db := storetest.SQLite(b)
		return profilesqlite.New(db), graphsqlite.New(db), postsqlite.New(db)
	},
	"scale": func(b *testing.B) (profile.Store, graph.Store, post.Store) {
		return profilepg.New(storetest.Postgres(b)), graphneo4j.New(storetest.Neo4j(b)), postcass.New(storetest.Cassandra(b))
	},
}

// benchService is a PostService on one profile's stores with n users
// (prefix_0000…), all following user 0, the author.
func benchService(b *testing.B, open func(b *testing.B) (profile.Store, graph.Store, post.Store), n int) (*postapi.Service, []string) {
	b.Helper()
	ctx := context.Background()
	ps, gs, posts := open(b)
	for _, s := range []interface{ Migrate(context.Context) error }{ps, gs, posts} {
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	prefix := storetest.UniqueName("b")
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("%s_%04d", prefix, i)
		if err := ps.Create(ctx, profile.Profile{UserID: users[i], Handle: users[i], DisplayName: users[i], CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
		if _, err := gs.PutUser(ctx, users[i], false); err != nil {
			b.Fatal(err)
		}
		if i > 0 {
			if _, _, err := gs.Follow(ctx, users[i], users[0]); err != nil {
				b.Fatal(err)
			}
		}
	}
	return &postapi.Service{Posts: posts, Graph: gs, Profiles: ps, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, users
}

func caller(id string) context.Context {
	return auth.WithCaller(context.Background(), auth.Caller{UserID: id})
}

func report(b *testing.B, ds []time.Duration, elapsed time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) > 0 {
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(ds))/elapsed.Seconds(), "ops/s")
	}
}

// timed runs op b.N times over `workers` goroutines and reports latency
// percentiles and throughput.
func timed(b *testing.B, workers int, op func(i int) error) {
	ds := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				ds[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, ds, elapsed)
}

func BenchmarkPostService(b *testing.B) {
	for _, name := range []string{"embedded", "scale"} {
		b.Run(name, func(b *testing.B) {
			svc, users := benchService(b, profiles[name], 101)
			author := users[0]
			b.Run("CreatePost", func(b *testing.B) {
				timed(b, 8, func(i int) error {
					_, err := svc.CreatePost(caller(users[i%len(users)]), connect.NewRequest(&postv1.CreatePostRequest{
						Text: fmt.Sprintf("post %d about #bench with @%s", i, author),
					}))
					return err
				})
			})
			p, err := svc.CreatePost(caller(author), connect.NewRequest(&postv1.CreatePostRequest{Text: "hydrate me #bench", Visibility: postv1.Visibility_VISIBILITY_FOLLOWERS}))
			if err != nil {
				b.Fatal(err)
			}
			id := p.Msg.GetPost().GetPostId()
			b.Run("GetPostHydrated", func(b *testing.B) {
				timed(b, 4, func(i int) error {
					res, err := svc.GetPost(caller(users[1+i%(len(users)-1)]), connect.NewRequest(&postv1.GetPostRequest{PostId: id}))
					if err == nil && res.Msg.GetPost().GetAuthor().GetHandle() == "" {
						err = fmt.Errorf("not hydrated: %v", res.Msg.GetPost())
					}
					return err
				})
			})
			b.Run("LikeHotPost100Users", func(b *testing.B) {
				hot, err := svc.CreatePost(caller(author), connect.NewRequest(&postv1.CreatePostRequest{Text: "hot"}))
				if err != nil {
					b.Fatal(err)
				}
				hotID := hot.Msg.GetPost().GetPostId()
				// 100 distinct likers, each liking (and retrying) b.N/100 times:
				// the count must end at exactly the number of likers.
				timed(b, 100, func(i int) error {
					_, err := svc.LikePost(caller(users[1+i%100]), connect.NewRequest(&postv1.LikePostRequest{PostId: hotID}))
					return err
				})
				got, err := svc.GetPost(caller(author), connect.NewRequest(&postv1.GetPostRequest{PostId: hotID}))
				if err != nil {
					b.Fatal(err)
				}
				want := min(b.N, 100)
				if n := int(got.Msg.GetPost().GetLikeCount()); n != want {
					b.Fatalf("like_count = %d after %d likes by %d users, want %d", n, b.N, want, want)
				}
			})
		})
	}
}

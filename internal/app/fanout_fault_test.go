package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/devtemporal/devtemporaltest"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/feed"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/internal/timeline"
	"github.com/ejazz/ejazz/workflows"
)

const faultFollowers = 10_000

// slowTimelines delays each fan-out write a little so the test can stop the
// worker mid-way; the writes themselves go to the real store.
type slowTimelines struct {
	timeline.Store
	delay  time.Duration
	writes atomic.Int64
}

func (s *slowTimelines) Add(ctx context.Context, owners []string, e timeline.Entry) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	err := s.Store.Add(ctx, owners, e)
	if err == nil {
		s.writes.Add(1)
	}
	return err
}

// TestFanoutSurvivesWorkerKill fans a post out to 10,000 followers, stops
// the feed worker pool in the middle, starts a new one, and checks that
// every follower's timeline ends up holding the post exactly once: the
// activity resumes from its heartbeat and the writes are idempotent.
func TestFanoutSurvivesWorkerKill(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		faultRun(t, workerlessDevConfig(t), 100)
	})
	t.Run("scale", func(t *testing.T) {
		for _, v := range []string{"EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS"} {
			testenv.Require(t, v)
		}
		cfg, err := config.Load(nil, append(os.Environ(), "EJAZZ_PROFILE=scale", "EJAZZ_LOG_LEVEL=error"))
		if err != nil {
			t.Fatal(err)
		}
		faultRun(t, cfg, 1000)
	})
}

// workerlessDevConfig is devConfig on a Temporal server of its own, for
// tests that run their own workers instead of a whole `ejazz dev`.
func workerlessDevConfig(tb testing.TB) *config.Config {
	cfg := devConfig(tb)
	cfg.Temporal.Address = devtemporaltest.Start(tb, cfg.Temporal.Namespace, workflows.SearchAttributeTypes())
	return cfg
}

// fanoutFixture opens cfg's graph, post and timeline stores and a
// Temporal client, and seeds an author with faultFollowers followers.
type fanoutFixture struct {
	stores    *app.Stores
	tc        client.Client
	author    string
	followers []string
}

func newFanoutFixture(ctx context.Context, t testing.TB, cfg *config.Config, name string) *fanoutFixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stores, err := app.OpenStores(ctx, cfg, []string{"graph", "posts", "timelines"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })
	if err := stores.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tc, err := app.DialTemporal(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	start := time.Now()
	prefix := storetest.UniqueName(name)
	f := &fanoutFixture{stores: stores, tc: tc, author: prefix + "_author", followers: make([]string, faultFollowers)}
	if _, err := stores.Graph.PutUser(ctx, f.author, false); err != nil {
		t.Fatal(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range f.followers {
		f.followers[i] = fmt.Sprintf("%s_%05d", prefix, i)
		g.Go(func() error {
			if _, err := stores.Graph.PutUser(gctx, f.followers[i], false); err != nil {
				return err
			}
			_, _, err := stores.Graph.Follow(gctx, f.followers[i], f.author)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d followers in %v", faultFollowers, time.Since(start).Round(time.Millisecond))
	return f
}

func faultRun(t *testing.T, cfg *config.Config, pageSize int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := newFanoutFixture(ctx, t, cfg, "fault")
	stores, tc, author, followers := f.stores, f.tc, f.author, f.followers
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	p := post.Post{ID: id.String(), AuthorID: author, Text: "to ten thousand", Visibility: post.Public, CreatedAt: time.Now().UTC()}
	if _, _, err := stores.Posts.Create(ctx, p, ""); err != nil {
		t.Fatal(err)
	}

	// A feed worker pool whose writes are slowed down, so it can be
	// stopped in the middle; the shards are private to this test.
	slow := &slowTimelines{Store: stores.Timelines, delay: 30 * time.Millisecond}
	startWorker := func(tl timeline.Store) worker.Worker {
		w := worker.New(tc, workflows.QueueFeed, worker.Options{})
		w.RegisterWorkflow(workflows.FeedFanout)
		w.RegisterActivity(&activities.Feed{Graph: stores.Graph, Posts: stores.Posts, Timelines: tl, Threshold: 100_000, PageSize: pageSize})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := startWorker(slow)
	d := &feed.Dispatcher{Temporal: tc, Shards: 1}
	if err := d.Publish(ctx, event.New(event.PostCreated, author, "", p.ID, p.CreatedAt)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	pages := faultFollowers / pageSize
	for slow.writes.Load() < int64(pages/3) {
		if ctx.Err() != nil {
			t.Fatal("fan-out made no progress")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Stop() // the worker dies a third of the way through
	written := slow.writes.Load()
	if written >= int64(pages) {
		t.Fatalf("the fan-out finished (%d writes) before the worker was stopped", written)
	}
	t.Logf("worker stopped after %d of %d page writes", written, pages+1)

	w = startWorker(stores.Timelines)
	defer w.Stop()
	// Every follower ends up holding the post exactly once: poll until none
	// misses it (a duplicate fails at once), within a deadline.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		missing, doubled, err := census(ctx, stores.Timelines, followers, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if doubled != 0 {
			t.Fatalf("after the restart %d followers hold the post more than once", doubled)
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d followers still miss the post", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// census counts the owners whose first timeline page lacks postID and those
// that hold it more than once.
func census(ctx context.Context, tl timeline.Store, owners []string, postID string) (missing, doubled int, err error) {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, o := range owners {
		g.Go(func() error {
			es, _, err := tl.Page(gctx, o, "", 10)
			if err != nil {
				return err
			}
			n := 0
			for _, e := range es {
				if e.PostID == postID {
					n++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case n == 0:
				missing++
			case n > 1:
				doubled++
			}
			return nil
		})
	}
	err = g.Wait()
	return missing, doubled, err
}

package app_test

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/worker"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/feed"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// lagObserver hands each observed fan-out lag (seconds) to a channel.
type lagObserver chan float64

func (o lagObserver) Observe(v float64) { o <- v }

// BenchmarkFanout10k measures a 10,000-follower fan-out from the post's
// time (its UUIDv7) to the last timeline page written, through the real
// dispatcher, shard workflow and activity, one post at a time; every
// follower is checked to hold the last post. Reported: p50 and max seconds.
//
//	go test -run '^$' -bench Fanout10k -benchtime 5x ./internal/app/
func BenchmarkFanout10k(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		fanoutBench(b, workerlessDevConfig(b))
	})
	b.Run("scale", func(b *testing.B) {
		for _, v := range []string{"EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS"} {
			testenv.Require(b, v)
		}
		cfg, err := config.Load(nil, append(os.Environ(), "EJAZZ_PROFILE=scale", "EJAZZ_LOG_LEVEL=error"))
		if err != nil {
			b.Fatal(err)
		}
		fanoutBench(b, cfg)
	})
}

func fanoutBench(b *testing.B, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	f := newFanoutFixture(ctx, b, cfg, "fan10k")
	stores, tc, author, followers := f.stores, f.tc, f.author, f.followers
	lags := make(lagObserver, 16)
	w := worker.New(tc, workflows.QueueFeed, worker.Options{})
	w.RegisterWorkflow(workflows.FeedFanout)
	w.RegisterActivity(&activities.Feed{Graph: stores.Graph, Posts: stores.Posts, Timelines: stores.Timelines,
		Threshold: 100_000, PageSize: cfg.Feed.PageSize, Lag: lags})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	d := &feed.Dispatcher{Temporal: tc, Shards: 1}
	var got []float64
	var last string
	b.ResetTimer()
	for range b.N {
		id, err := uuid.NewV7()
		if err != nil {
			b.Fatal(err)
		}
		p := post.Post{ID: id.String(), AuthorID: author, Text: "to ten thousand", Visibility: post.Public, CreatedAt: time.Now().UTC()}
		if _, _, err := stores.Posts.Create(ctx, p, ""); err != nil {
			b.Fatal(err)
		}
		if err := d.Publish(ctx, event.New(event.PostCreated, author, "", p.ID, p.CreatedAt)); err != nil {
			b.Fatal(err)
		}
		select {
		case v := <-lags:
			got = append(got, v)
		case <-ctx.Done():
			b.Fatal("no fan-out finished")
		}
		last = p.ID
	}
	b.StopTimer()
	missing, doubled, err := census(ctx, stores.Timelines, followers, last)
	if err != nil || missing != 0 || doubled != 0 {
		b.Fatalf("last post: %d followers miss it, %d hold it twice (%v)", missing, doubled, err)
	}
	sort.Float64s(got)
	b.ReportMetric(got[len(got)/2], "p50-s")
	b.ReportMetric(got[len(got)-1], "max-s")
}

package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/clickhouse"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storetest"
)

// landedButFailed is a sink whose first insert reaches ClickHouse but
// reports an error, as when the connection dies after the server took the
// batch: the ingester spills the batch and replays it.
type landedButFailed struct {
	*clickhouse.Store
	calls atomic.Int64
}

func (s *landedButFailed) Insert(ctx context.Context, evs []event.Event) error {
	err := s.Store.Insert(ctx, evs)
	if s.calls.Add(1) == 1 && err == nil {
		return errors.New("connection reset after the insert")
	}
	return err
}

// TestReplayOfALandedBatch: a batch that reached ClickHouse but was spilled
// anyway is replayed without counting twice (the dedup stage finds it).
func TestReplayOfALandedBatch(t *testing.T) {
	db := storetest.ClickHouse(t)
	store := clickhouse.New(db)
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sink := &landedButFailed{Store: store}
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: sink, SpoolDir: t.TempDir(), BatchSize: 10_000,
		FlushEvery: 50 * time.Millisecond, RetryEvery: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	day := time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	evs := make([]event.Event, 10_000)
	for i := range evs {
		evs[i] = event.New(event.Liked, fmt.Sprintf("user-%d", i), "author", fmt.Sprintf("post-%d", i%10), day.Add(time.Duration(i)*time.Second))
	}
	if err := in.Publish(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for st := in.Stats(); st.Spilled == 0 || st.SpoolFiles > 0; st = in.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the failed batch was not spilled and replayed: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rows uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM raw_events").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 10_000 || sink.calls.Load() < 2 {
		t.Errorf("raw_events holds %d rows after %d inserts, want 10000 (stats %+v)", rows, sink.calls.Load(), in.Stats())
	}
	eng, err := store.PostEngagement(ctx, "post-3")
	if err != nil {
		t.Fatal(err)
	}
	if l, _, _ := analytics.Engagement(eng); l != 1000 {
		t.Errorf("likes of post-3 = %d, want 1000", l)
	}
}

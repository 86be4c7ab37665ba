package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/event"
)

// fakeSink records inserted events and fails while down.
type fakeSink struct {
	mu      sync.Mutex
	down    bool
	block   chan struct{} // when set, Insert waits on it
	batches [][]event.Event
	seen    map[string]int
}

func (f *fakeSink) Insert(ctx context.Context, evs []event.Event) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("sink down")
	}
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.batches = append(f.batches, append([]event.Event(nil), evs...))
	for _, e := range evs {
		f.seen[e.ID]++
	}
	return nil
}

func (f *fakeSink) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *fakeSink) counts() (distinct, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.seen {
		distinct++
		total += n
	}
	return distinct, total
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func events(prefix string, n int) []event.Event {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.New(event.Liked, fmt.Sprintf("%s-u%d", prefix, i), "a", "p", at.Add(time.Duration(i)))
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIngesterBatchesBySizeAndTime(t *testing.T) {
	sink := &fakeSink{}
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: sink, SpoolDir: t.TempDir(), BatchSize: 100, FlushEvery: 50 * time.Millisecond, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	ctx := context.Background()
	if err := in.Publish(ctx, events("a", 250)...); err != nil {
		t.Fatal(err)
	}
	// Two full batches go at once; the last 50 after FlushEvery.
	waitFor(t, "250 events", 2*time.Second, func() bool { d, _ := sink.counts(); return d == 250 })
	sink.mu.Lock()
	sizes := []int{}
	for _, b := range sink.batches {
		sizes = append(sizes, len(b))
	}
	sink.mu.Unlock()
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("batch sizes = %v, want [100 100 50]", sizes)
	}
	if st := in.Stats(); st.Published != 250 || st.Inserted != 250 || st.Spilled != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestIngesterBackpressure(t *testing.T) {
	block := make(chan struct{})
	sink := &fakeSink{block: block}
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: sink, SpoolDir: t.TempDir(), QueueSize: 10, BatchSize: 5, FlushEvery: time.Millisecond, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	// The writer holds one batch (5) in the blocked sink; the queue takes
	// 10 more; the next Publish waits until its context ends.
	if err := in.Publish(context.Background(), events("b", 15)...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = in.Publish(ctx, events("c", 1)...)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("Publish on a full queue = %v after %s, want to wait for its deadline", err, time.Since(start))
	}
	if q := in.Stats().Queued; q != 10 {
		t.Errorf("queued = %d, want the bound 10", q)
	}
	close(block)
	sink.mu.Lock()
	sink.block = nil
	sink.mu.Unlock()
	if err := in.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, _ := sink.counts(); d != 15 {
		t.Errorf("inserted %d, want 15", d)
	}
}

func TestIngesterSpillsAndReplays(t *testing.T) {
	sink := &fakeSink{}
	dir := t.TempDir()
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: sink, SpoolDir: dir, BatchSize: 100, FlushEvery: 10 * time.Millisecond, RetryEvery: 20 * time.Millisecond, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sink.setDown(true)
	evs := events("d", 1000)
	if err := in.Publish(ctx, evs[:500]...); err != nil {
		t.Fatal(err)
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := in.Stats(); st.Spilled != 500 || st.SpoolFiles == 0 {
		t.Fatalf("while down: %+v, want 500 spilled", st)
	}
	sink.setDown(false)
	if err := in.Publish(ctx, evs[500:]...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event", 5*time.Second, func() bool { d, _ := sink.counts(); return d == 1000 })
	waitFor(t, "an empty spool", 5*time.Second, func() bool { return in.Stats().SpoolFiles == 0 })
	if d, total := sink.counts(); d != 1000 || total != 1000 {
		t.Errorf("sink saw %d distinct, %d total; want each of 1000 once", d, total)
	}
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestIngesterReplaysWhatAnEarlierRunLeft(t *testing.T) {
	dir := t.TempDir()
	down := &fakeSink{down: true}
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: down, SpoolDir: dir, BatchSize: 50, RetryEvery: time.Hour, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Publish(context.Background(), events("e", 120)...); err != nil {
		t.Fatal(err)
	}
	// Close spills what is queued; the files stay for the next run.
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("nothing spooled at close")
	}
	// A claim left by a replayer that died is reclaimed.
	if err := os.Rename(files[0], files[0]+".claimed"); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(files[0]+".claimed", old, old)

	up := &fakeSink{}
	in2, err := analytics.NewIngester(analytics.IngestOptions{Sink: up, SpoolDir: dir, RetryEvery: 10 * time.Millisecond, InsertTimeout: time.Second, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Close(context.Background())
	waitFor(t, "the replay", 5*time.Second, func() bool { d, _ := up.counts(); return d == 120 })
	if _, total := up.counts(); total != 120 {
		t.Errorf("replayed %d events, want 120", total)
	}
}

func TestIngesterRefusesAfterClose(t *testing.T) {
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: &fakeSink{}, SpoolDir: t.TempDir(), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	_ = in.Close(context.Background())
	if err := in.Publish(context.Background(), events("f", 1)...); !errors.Is(err, analytics.ErrIngesterClosed) {
		t.Errorf("Publish after Close = %v", err)
	}
}

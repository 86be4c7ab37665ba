package sqlite_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/sqlite"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storetest"
)

// BenchmarkIngestSQLite is the sustained ingest rate into the embedded
// profile's analytics store:
//
//	go test -run '^$' -bench IngestSQLite -benchtime 200000x ./analytics/sqlite/
func BenchmarkIngestSQLite(b *testing.B) {
	s := sqlite.New(storetest.SQLite(b))
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: s, SpoolDir: b.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]event.Event, b.N)
	for i := range evs {
		evs[i] = event.New(event.Liked, "u"+strconv.Itoa(i%100_000), "a", "p"+strconv.Itoa(i%200_000), start.Add(time.Duration(i)*time.Millisecond))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	t0 := time.Now()
	if err := in.Publish(ctx, evs...); err != nil {
		b.Fatal(err)
	}
	if err := in.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	if st := in.Stats(); st.Inserted != int64(b.N) {
		b.Fatalf("inserted %d of %d", st.Inserted, b.N)
	}
	_ = in.Close(ctx)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "alloc-B/event")
}

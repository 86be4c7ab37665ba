package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/event"
)

type nopSink struct{}

func (nopSink) Insert(context.Context, []event.Event) error { return nil }

// BenchmarkIngesterPublish is the request-path cost of analytics: one
// Publish of one event into the queue (the writer drains to a no-op sink).
//
//	go test -run '^$' -bench IngesterPublish ./analytics/
func BenchmarkIngesterPublish(b *testing.B) {
	in, err := analytics.NewIngester(analytics.IngestOptions{Sink: nopSink{}, SpoolDir: b.TempDir(), Log: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close(context.Background())
	e := event.New(event.Liked, "u", "a", "p", time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := in.Publish(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

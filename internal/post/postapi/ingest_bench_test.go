package postapi_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/ejazz/ejazz/analytics"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/post"
)

// discard is an analytics sink that takes every batch at once, so the
// benchmark measures the request path only.
type discard struct{}

func (discard) Insert(context.Context, []event.Event) error { return nil }

// BenchmarkLikePostIngest measures what analytics ingestion adds to a
// LikePost call (embedded profile; like and unlike alternate so that every
// call publishes an event): "none" has no publisher, "ingester" publishes
// to an analytics.Ingester (an in-memory enqueue).
//
//	go test -run '^$' -bench LikePostIngest -benchtime 20000x ./internal/post/postapi/
func BenchmarkLikePostIngest(b *testing.B) {
	for _, mode := range []string{"none", "ingester"} {
		b.Run(mode, func(b *testing.B) {
			svc, users := benchService(b, profiles["embedded"], 2)
			ctx := caller(users[0])
			p, _, err := svc.Posts.Create(context.Background(), post.Post{ID: "0190aaaa-0000-7000-8000-000000000001", AuthorID: users[0], Text: "x", Visibility: post.Public}, "")
			if err != nil {
				b.Fatal(err)
			}
			if mode == "ingester" {
				in, err := analytics.NewIngester(analytics.IngestOptions{Sink: discard{}, SpoolDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer in.Close(context.Background())
				svc.Events = in
			}
			timed(b, 1, func(i int) error {
				var err error
				if i%2 == 0 {
					_, err = svc.LikePost(ctx, connect.NewRequest(&postv1.LikePostRequest{PostId: p.ID}))
				} else {
					_, err = svc.UnlikePost(ctx, connect.NewRequest(&postv1.UnlikePostRequest{PostId: p.ID}))
				}
				return err
			})
		})
	}
}

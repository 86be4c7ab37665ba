package app_test

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	mediav1 "github.com/ejazz/ejazz/gen/ejazz/media/v1"
	"github.com/ejazz/ejazz/gen/ejazz/media/v1/mediav1connect"
	"github.com/ejazz/ejazz/internal/media/mediatest"
)

// BenchmarkMediaPipeline12MP measures one 12-megapixel JPEG through the whole
// embedded platform, one at a time: CompleteUpload → pipeline workflow →
// decode, variants, blob writes → READY seen by GetMedia (polled every
// 10 ms). Upload time is not counted.
//
//	go test -run '^$' -bench MediaPipeline12MP -benchtime 10x ./internal/app/
func BenchmarkMediaPipeline12MP(b *testing.B) {
	cfg := devConfig(b)
	cfg.HTTP.Addr = freeAddr(b)
	cfg.HTTP.PublicURL = "http://" + cfg.HTTP.Addr
	r, stop := startDev(b, cfg)
	defer stop()
	base := "http://" + r.HTTPAddr
	ctx := context.Background()
	c := mediav1connect.NewMediaServiceClient(http.DefaultClient, base)
	u := register(ctx, b, base, devMail(base), "bench")
	photo := mediatest.JPEG(b, mediatest.Photo(4000, 3000, 12), 90)
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		res, err := c.CreateUpload(ctx, by(u, &mediav1.CreateUploadRequest{ContentType: "image/jpeg", SizeBytes: int64(len(photo))}))
		if err != nil {
			b.Fatal(err)
		}
		if code := putBytes(b, res.Msg, photo); code != http.StatusOK {
			b.Fatalf("upload = %d", code)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := c.CompleteUpload(ctx, by(u, &mediav1.CompleteUploadRequest{MediaId: res.Msg.GetMediaId()})); err != nil {
			b.Fatal(err)
		}
		for {
			got, err := c.GetMedia(ctx, by(u, &mediav1.GetMediaRequest{MediaId: res.Msg.GetMediaId()}))
			if err != nil {
				b.Fatal(err)
			}
			if s := got.Msg.GetMedia().GetStatus(); s == mediav1.MediaStatus_MEDIA_STATUS_READY {
				break
			} else if s == mediav1.MediaStatus_MEDIA_STATUS_FAILED {
				b.Fatalf("FAILED: %s", got.Msg.GetMedia().GetFailureReason())
			}
			time.Sleep(10 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}

package gateway

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/internal/auth"
)

// benchUnary runs GetPost in parallel against base and reports the p50 and
// p99 latency next to ns/op. Compare BenchmarkGateway with BenchmarkDirect:
// the difference is the gateway's cost (a second hop over loopback, token
// verification and identity signing).
func benchUnary(b *testing.B, base string, opts ...connect.ClientOption) {
	client := postv1connect.NewPostServiceClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}, base, opts...)
	ctx := context.Background()
	req := &postv1.GetPostRequest{PostId: "p1"}
	if _, err := client.GetPost(ctx, connect.NewRequest(req)); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			start := time.Now()
			if _, err := client.GetPost(ctx, connect.NewRequest(req)); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkDirect calls one backend instance directly.
func BenchmarkDirect(b *testing.B) {
	a := startBackend(b, "a", "127.0.0.1:0")
	id, _ := signer().Sign(auth.Caller{UserID: "user-1"})
	benchUnary(b, a.url(), withHeader("Ejazz-Identity", id))
}

// BenchmarkGateway calls the same backend through the gateway, with a
// bearer token verified and turned into a signed identity on every call.
func BenchmarkGateway(b *testing.B) {
	a := startBackend(b, "a", "127.0.0.1:0")
	tk := newTokens(b)
	tk.ver.CacheSize = 10_000 // as the app configures it
	_, url := startGateway(b, Options{
		Routes: []Route{{Service: postService, Backend: Backend{Resolver: Static{a.url()}}}},
		Tokens: tk.ver, Signer: signer(),
	})
	benchUnary(b, url, bearer(tk.issue(b, "user-1")))
}

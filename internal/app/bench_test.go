package app_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
)

// BenchmarkRegistration measures sign-ups end to end on the embedded
// profile: SignUp RPC → argon2id → registration workflow (update-with-start)
// → account + profile activities → verification mail in the dev mailbox,
// with 8 concurrent clients. It reports registrations per second.
func BenchmarkRegistration(b *testing.B) {
	cfg := devConfig(b)
	r, stop := startDev(b, cfg)
	defer stop()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, "http://"+r.HTTPAddr)
	var n atomic.Int64
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				h := fmt.Sprintf("bench_%d_%d", time.Now().UnixNano()%1e9, i)
				_, err := c.SignUp(context.Background(), connect.NewRequest(&authv1.SignUpRequest{
					Email: h + "@example.com", Handle: h, Password: "correct horse battery", DisplayName: "Bench",
				}))
				if err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	for i := 0; i < b.N; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "registrations/s")
}

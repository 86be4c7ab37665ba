package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/ejazz/ejazz/activities"
	notificationv1 "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/dispatch"
	"github.com/ejazz/ejazz/internal/notification/notificationapi"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// benchConfig returns the configuration of profile for a benchmark: on the
// embedded profile a fresh data directory and an in-process Temporal server
// (stopped at cleanup); on the scale profile the engines of `dev/stack env`.
func benchConfig(b *testing.B, prof string) *config.Config {
	b.Helper()
	if prof == config.ProfileEmbedded {
		return workerlessDevConfig(b)
	}
	for _, v := range []string{"EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_SMTP_ADDR"} {
		testenv.Require(b, v)
	}
	cfg, err := config.Load(nil, append(os.Environ(), "EJAZZ_PROFILE=scale", "EJAZZ_LOG_LEVEL=error"))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func benchStores(b *testing.B, cfg *config.Config, components ...string) *app.Stores {
	b.Helper()
	ctx := context.Background()
	stores, err := app.OpenStores(ctx, cfg, components)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stores.Close() })
	if err := stores.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return stores
}

// applyRecorder notes when each Apply ran and which actors it carried.
type applyRecorder struct {
	notification.Store
	mu      sync.Mutex
	applies map[string]map[string][]applied // user → actor → applies, in order
}

type applied struct{ start, end time.Time }

func (r *applyRecorder) Apply(ctx context.Context, userID string, batch notification.Batch) ([]notification.Notification, error) {
	start := time.Now()
	ns, err := r.Store.Apply(ctx, userID, batch)
	if err != nil {
		return ns, err
	}
	end := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applies == nil {
		r.applies = map[string]map[string][]applied{}
	}
	if r.applies[userID] == nil {
		r.applies[userID] = map[string][]applied{}
	}
	for _, g := range batch.Groups {
		for _, a := range g.Actors {
			r.applies[userID][a] = append(r.applies[userID][a], applied{start, end})
		}
	}
	return ns, nil
}

// lag is how long after at the first Apply that started after at and
// carried actor for userID ended; ok is false when there is none yet.
func (r *applyRecorder) lag(userID, actor string, at time.Time) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.applies[userID][actor] {
		if !a.start.Before(at) {
			return a.end.Sub(at), true
		}
	}
	return 0, false
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// likesHarness is the notification path of one profile: stores, a worker
// of the notification shard workflow on its own task queue (with the real
// activities, the inbox wrapped to note when each like lands) and fans in
// the graph.
type likesHarness struct {
	stores *app.Stores
	tc     client.Client
	rec    *applyRecorder
	queue  string
	prefix string
	fans   []string
}

const benchFans = 5000

func newLikesHarness(b *testing.B, prof string) *likesHarness {
	b.Helper()
	ctx := context.Background()
	cfg := benchConfig(b, prof)
	stores := benchStores(b, cfg, "notifications", "graph", "posts", "profiles", "accounts", "mail")
	tc, err := app.DialTemporal(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tc.Close)
	h := &likesHarness{stores: stores, tc: tc, rec: &applyRecorder{Store: stores.Notifications},
		queue: storetest.UniqueName("bench-notifications"), prefix: storetest.UniqueName("nb")}
	acts := &activities.Notifications{Inbox: h.rec, Prefs: stores.NotificationPrefs, Graph: stores.Graph, Posts: stores.Posts,
		Profiles: stores.Profiles, Accounts: stores.Accounts, Mail: stores.Mail, Broker: stores.NotificationBroker,
		Unsubscribe: &notification.Unsubscribe{Prefs: stores.NotificationPrefs, BaseURL: cfg.HTTP.PublicURL}, PublicURL: cfg.HTTP.PublicURL}
	w := worker.New(tc, h.queue, worker.Options{})
	w.RegisterWorkflow(workflows.NotificationShard)
	w.RegisterActivity(acts)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range benchFans {
		h.fans = append(h.fans, fmt.Sprintf("%s_fan_%05d", h.prefix, i))
		g.Go(func() error {
			_, err := stores.Graph.PutUser(gctx, h.fans[i], false)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return h
}

// run publishes b.N likes of one post by fans (cycling), at rate per
// second (0: as fast as 64 concurrent requests go), through a Dispatcher
// as PostService does, and waits until each has landed in the author's
// inbox.
func (h *likesHarness) run(b *testing.B, rate int) {
	ctx := context.Background()
	star := storetest.UniqueName(h.prefix + "_star")
	if _, err := h.stores.Graph.PutUser(ctx, star, false); err != nil {
		b.Fatal(err)
	}
	p, _, err := h.stores.Posts.Create(ctx, post.Post{ID: star + "_post", AuthorID: star, Text: "viral", Visibility: post.Public, CreatedAt: time.Now()}, "")
	if err != nil {
		b.Fatal(err)
	}
	d := &dispatch.Dispatcher{Temporal: h.tc, BatchWindow: time.Second, TaskQueue: h.queue}
	runsBefore := h.runs(ctx, d.WorkflowID(star))
	at := make([]time.Time, b.N)
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for i := range jobs {
				at[i] = time.Now()
				if err := d.Publish(ctx, event.New(event.Liked, h.fans[i%len(h.fans)], star, p.ID, at[i])); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < b.N; i++ {
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	lags := make([]time.Duration, b.N)
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < b.N; {
		l, ok := h.rec.lag(star, h.fans[i%len(h.fans)], at[i])
		if !ok {
			if time.Now().After(deadline) {
				b.Fatalf("like %d of %d never reached the inbox", i, b.N)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		lags[i] = l
		i++
	}
	_, signals := d.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "likes/s")
	b.ReportMetric(ms(percentile(lags, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lags, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(lags, 1)), "max-ms")
	b.ReportMetric(float64(signals), "signals")
	if runsBefore >= 0 {
		if n := h.runs(ctx, d.WorkflowID(star)); n >= 0 {
			b.ReportMetric(float64(n-runsBefore), "runs")
		}
	}
	b.ReportMetric(0, "ns/op")
}

// runs counts the runs of workflow id (-1 when Temporal cannot count):
// the star's shard lives across sub-benchmarks, so a sub-benchmark reports
// the runs it added (continue-as-new, or the first start).
func (h *likesHarness) runs(ctx context.Context, id string) int64 {
	n, err := h.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", id)})
	if err != nil {
		return -1
	}
	return n.GetCount()
}

// BenchmarkNotificationLikes measures the likes a second that the
// notification path absorbs on each profile — from PostService's publish
// (dispatch.Dispatcher, group commit, signal-with-start) through the
// recipient's notification shard (1 s window) and the delivery activity
// (filters, inbox write, live publish) — all likes on one post, from 5,000
// fans, and how long each like takes to land in the author's inbox
// (p50/p99/max). rate=N paces the likes; rate=max sends them as fast as 64
// concurrent requests can. Run with a fixed count, e.g.
// -benchtime=20000x.
func BenchmarkNotificationLikes(b *testing.B) {
	for _, prof := range []string{config.ProfileEmbedded, config.ProfileScale} {
		b.Run(prof, func(b *testing.B) {
			h := newLikesHarness(b, prof)
			for _, rate := range []int{500, 1000, 2000, 0} {
				name := "rate=" + strconv.Itoa(rate)
				if rate == 0 {
					name = "rate=max"
				}
				b.Run(name, func(b *testing.B) { h.run(b, rate) })
			}
		})
	}
}

// BenchmarkNotificationStream measures stream delivery latency: b.N
// updates, 200 a second round robin over 10 users with 2 open streams each
// (20 Connect server streams over HTTP), published by a second broker as a
// worker process would (embedded: the in-process hub; scale: pg_notify
// heard by the API's LISTEN connection), presented by the handler (graph
// and profile reads) and received by the clients. It reports p50/p99/max
// from publish to receipt.
func BenchmarkNotificationStream(b *testing.B) {
	for _, prof := range []string{config.ProfileEmbedded, config.ProfileScale} {
		b.Run(prof, func(b *testing.B) { streamBench(b, prof) })
	}
}

func streamBench(b *testing.B, prof string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := benchConfig(b, prof)
	api := benchStores(b, cfg, "notifications", "graph", "profiles")
	publisher := api.NotificationBroker // embedded: one process
	if prof == config.ProfileScale {
		publisher = benchStores(b, cfg, "notifications").NotificationBroker // another process's broker
	}
	prefix := storetest.UniqueName("sb")
	actor := prefix + "_actor"
	if err := api.Profiles.Create(ctx, profile.Profile{UserID: actor, Handle: actor, DisplayName: "Bench Actor", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	svc := &notificationapi.Service{Inbox: api.Notifications, Prefs: api.NotificationPrefs, Graph: api.Graph, Profiles: api.Profiles,
		Broker: api.NotificationBroker, KeepAlive: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	mux.Handle(notificationv1connect.NewNotificationServiceHandler(svc))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), auth.Caller{UserID: r.Header.Get("X-Bench-User")})))
	}))
	defer srv.Close()
	c := notificationv1connect.NewNotificationServiceClient(srv.Client(), srv.URL)

	const users, perUser, rate = 10, 2, 200
	sent := make([]time.Time, b.N)
	var mu sync.Mutex
	var lats []time.Duration
	var opened, done sync.WaitGroup
	for u := range users {
		for range perUser {
			req := connect.NewRequest(&notificationv1.StreamNotificationsRequest{})
			req.Header().Set("X-Bench-User", fmt.Sprintf("%s_u%d", prefix, u))
			s, err := c.StreamNotifications(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			opened.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				first := true
				for s.Receive() {
					if first {
						first = false
						opened.Done()
						continue
					}
					n := s.Msg().GetNotification()
					if n == nil {
						continue
					}
					i, _ := strconv.Atoi(n.GetNotificationId())
					l := time.Since(sent[i])
					mu.Lock()
					lats = append(lats, l)
					mu.Unlock()
				}
			}()
		}
	}
	opened.Wait()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		u := fmt.Sprintf("%s_u%d", prefix, i%users)
		sent[i] = time.Now()
		n := notification.Notification{ID: strconv.Itoa(i), UserID: u, Kind: notification.Like, PostID: "p", Actors: []string{actor}, ActorCount: 1, At: sent[i]}
		if err := publisher.Publish(ctx, notification.Update{UserID: u, Notification: n, UnreadCount: 1}); err != nil {
			b.Fatal(err)
		}
	}
	want := b.N * perUser
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(lats)
		mu.Unlock()
		if got >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	cancel()
	done.Wait()
	if len(lats) != want {
		b.Errorf("received %d of %d updates", len(lats), want)
	}
	b.ReportMetric(ms(percentile(lats, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lats, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(lats, 1)), "max-ms")
	b.ReportMetric(0, "ns/op")
}

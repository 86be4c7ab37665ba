package workflows

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/devtemporal/devtemporaltest"
	"github.com/ejazz/ejazz/internal/notification"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testServer starts an embedded Temporal server for the test and returns a
// client of it (both closed when the test ends).
func testServer(ctx context.Context, t *testing.T) client.Client {
	t.Helper()
	c, err := client.DialContext(ctx, client.Options{HostPort: devtemporaltest.Start(t, "default", SearchAttributeTypes()),
		Namespace: "default", Logger: tlog.NewStructuredLogger(quietLog())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestNotificationBatchHistoryStaysBounded sends 10,000 events to one
// recipient's batching workflow on a real (in-process) Temporal server —
// 2,000 signal-with-starts of 5 events from 4 senders, as the dispatcher
// would — and walks the chain of runs: every event is delivered once, the
// workflow continued as new, and no run's history comes near Temporal's
// 51,200-event limit.
func TestNotificationBatchHistoryStaysBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := testServer(ctx, t)
	const queue, total, perSignal = "notification-history-test", 10_000, 5
	var delivered, deliveries atomic.Int64
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(NotificationBatch)
	w.RegisterActivityWithOptions(func(_ context.Context, in activities.DeliverInput) (*activities.DeliverResult, error) {
		for _, g := range in.Groups {
			delivered.Add(int64(len(g.Actors)))
		}
		deliveries.Add(1)
		return &activities.DeliverResult{}, nil
	}, activity.RegisterOptions{Name: "Deliver"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	user := "history-test-user"
	id := NotificationWorkflowID(user)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := 0; i < total; i += perSignal {
		g.Go(func() error {
			var events []notification.Event
			for j := i; j < i+perSignal; j++ {
				events = append(events, notification.Event{ID: fmt.Sprintf("e%05d", j), Kind: notification.Like, ActorID: fmt.Sprintf("a%05d", j), PostID: "p1", At: time.Now()})
			}
			_, err := c.SignalWithStartWorkflow(gctx, id, SignalNotify, events,
				client.StartWorkflowOptions{ID: id, TaskQueue: queue}, NotificationBatch, &NotificationBatchInput{UserID: user, Window: time.Second, Idle: time.Second})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	for delivered.Load() < total {
		if ctx.Err() != nil {
			t.Fatalf("delivered %d of %d events", delivered.Load(), total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		t.Fatalf("last run: %v", err)
	}

	// Walk the runs back from the last one through the continue-as-new
	// links (each run's start event names the run it continues).
	var lengths []int
	maxLen, sum := 0, 0
	for run := ""; ; {
		n, prev := 0, ""
		it := c.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
			n++
		}
		lengths = append([]int{n}, lengths...)
		maxLen, sum = max(maxLen, n), sum+n
		if prev == "" {
			break
		}
		run = prev
	}
	if delivered.Load() != total {
		t.Errorf("delivered %d actors, want %d", delivered.Load(), total)
	}
	if len(lengths) < 2 {
		t.Errorf("%d runs: the workflow never continued as new", len(lengths))
	}
	if maxLen > 10_000 {
		t.Errorf("longest run history = %d events, want it far below 51,200", maxLen)
	}
	t.Logf("%d events in %d signal-with-starts (sent in %v): %d runs, %d deliveries, history lengths %v (max %d, total %d)",
		total, total/perSignal, sent.Round(time.Millisecond), len(lengths), deliveries.Load(), lengths, maxLen, sum)
}

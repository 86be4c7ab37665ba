package workflows

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/notification"
)

// TestNotificationShardHistoryStaysBounded sends 10,000 events for a hot
// recipient (a viral post's author) and 2,000 for 500 quiet ones to one
// shard on a real (in-process) Temporal server — 2,000 signal-with-starts
// from 4 senders, as the dispatcher's loops would — and walks the chain of
// runs: every event is delivered once, the shard continued as new, no
// run's history comes near Temporal's 51,200-event limit, and every run's
// history replays (the workflow is deterministic).
func TestNotificationShardHistoryStaysBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := testServer(ctx, t)
	const queue, signals, hotPerSignal, quiet = "notification-shard-history-test", 2000, 5, 500
	var delivered, deliveries atomic.Int64
	var mu sync.Mutex
	got := map[string]int{} // event actor → times delivered
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(NotificationShard)
	w.RegisterActivityWithOptions(func(_ context.Context, ins []activities.DeliverInput) (*activities.DeliverResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, in := range ins {
			for _, g := range in.Groups {
				for _, a := range g.Actors {
					got[in.UserID+"/"+a]++
				}
				delivered.Add(int64(len(g.Actors)))
			}
		}
		deliveries.Add(1)
		return &activities.DeliverResult{}, nil
	}, activity.RegisterOptions{Name: "DeliverMany"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	id := NotificationShardWorkflowID(0)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range signals {
		g.Go(func() error {
			sig := NotificationShardSignal{Window: time.Second}
			var hot []notification.Event
			for j := i * hotPerSignal; j < (i+1)*hotPerSignal; j++ {
				hot = append(hot, notification.Event{ID: fmt.Sprintf("h%05d", j), Kind: notification.Like, ActorID: fmt.Sprintf("a%05d", j), PostID: "p1", At: time.Now()})
			}
			sig.Recipients = append(sig.Recipients, RecipientEvents{UserID: "hot", Events: hot},
				RecipientEvents{UserID: fmt.Sprintf("quiet%03d", i%quiet), Events: []notification.Event{
					{ID: fmt.Sprintf("q%05d", i), Kind: notification.Follow, ActorID: fmt.Sprintf("f%05d", i), At: time.Now()},
				}})
			_, err := c.SignalWithStartWorkflow(gctx, id, SignalNotifyShard, sig,
				client.StartWorkflowOptions{ID: id, TaskQueue: queue}, NotificationShard, &NotificationShardInput{Window: time.Second})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	total := int64(signals * (hotPerSignal + 1))
	for delivered.Load() < total {
		if ctx.Err() != nil {
			t.Fatalf("delivered %d of %d events", delivered.Load(), total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.CancelWorkflow(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	_ = c.GetWorkflow(ctx, id, "").Get(ctx, nil) // cancelled

	// Walk the runs back from the last one through the continue-as-new
	// links (each run's start event names the run it continues), replaying
	// each.
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(NotificationShard)
	var lengths []int
	maxLen, sum := 0, 0
	for run := ""; ; {
		h := &historypb.History{}
		prev := ""
		it := c.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
			h.Events = append(h.Events, e)
		}
		if err := replayer.ReplayWorkflowHistory(nil, h); err != nil {
			t.Errorf("run %s does not replay: %v", run, err)
		}
		n := len(h.Events)
		lengths = append([]int{n}, lengths...)
		maxLen, sum = max(maxLen, n), sum+n
		if prev == "" {
			break
		}
		run = prev
	}
	if delivered.Load() != total || len(got) != int(total) {
		t.Errorf("delivered %d actors (%d distinct), want %d once each", delivered.Load(), len(got), total)
	}
	if len(lengths) < 2 {
		t.Errorf("%d runs: the shard never continued as new", len(lengths))
	}
	if maxLen > notificationShardMaxHistory+2000 {
		t.Errorf("longest run history = %d events, want it far below 51,200", maxLen)
	}
	t.Logf("%d events for %d recipients in %d signal-with-starts (sent in %v): %d runs, %d deliveries, history lengths %v (max %d, total %d)",
		total, quiet+1, signals, sent.Round(time.Millisecond), len(lengths), deliveries.Load(), lengths, maxLen, sum)
}

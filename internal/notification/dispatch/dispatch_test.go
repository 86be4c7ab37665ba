package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/dispatch"
	"github.com/ejazz/ejazz/workflows"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRoute(t *testing.T) {
	evs := []event.Event{
		event.New(event.Liked, "ana", "me", "p1", t0),
		event.New(event.Liked, "me", "me", "p2", t0), // own post
		event.New(event.Unliked, "ana", "me", "p1", t0),
		event.New(event.Commented, "ben", "me", "p1", t0),
		event.New(event.Quoted, "cat", "me", "q1", t0),
		event.New(event.Mentioned, "cat", "dan", "q1", t0),
		event.New(event.PostCreated, "cat", "", "q1", t0),
		event.New(event.Unfollowed, "eve", "me", "", t0),
		event.New(event.FollowRequested, "fay", "me", "", t0),
		event.New(event.Blocked, "gus", "me", "", t0),
		// A friendship: the acceptance notifies, its follows do not.
		event.New(event.FriendAccepted, "me", "hal", "", t0),
		event.New(event.Followed, "me", "hal", "", t0),
		event.New(event.Followed, "hal", "me", "", t0),
		event.New(event.Followed, "ivy", "me", "", t0),
	}
	var got []string
	for _, r := range dispatch.Route(evs...) {
		u := ""
		if r.Event.Undo {
			u = "undo "
		}
		got = append(got, fmt.Sprintf("%s<-%s%s/%s:%s", r.UserID, u, r.Event.Kind, r.Event.PostID, r.Event.ActorID))
	}
	want := []string{
		"me<-like/p1:ana", "me<-undo like/p1:ana", "me<-comment/p1:ben", "me<-quote/q1:cat", "dan<-mention/q1:cat",
		"me<-undo follow/:eve", "me<-undo follow_request/:eve", "me<-follow_request/:fay",
		"hal<-friend_accepted/:me", "me<-follow/:ivy",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("routes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// fakeTemporal records SignalWithStartWorkflow calls.
type fakeTemporal struct {
	client.Client
	mu      sync.Mutex
	calls   int
	events  map[string][]notification.Event
	fail    string
	latency time.Duration
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, signal string, arg any, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	time.Sleep(f.latency)
	f.mu.Lock()
	defer f.mu.Unlock()
	if signal != workflows.SignalNotify || opts.TaskQueue != workflows.QueueNotifications || opts.ID != id {
		return nil, fmt.Errorf("unexpected call %s %s %+v", id, signal, opts)
	}
	in := args[0].(*workflows.NotificationBatchInput)
	if workflows.NotificationWorkflowID(in.UserID) != id || in.Window != 2*time.Second {
		return nil, fmt.Errorf("unexpected input %+v for %s", in, id)
	}
	if f.fail != "" && id == workflows.NotificationWorkflowID(f.fail) {
		return nil, errors.New("temporal is down")
	}
	f.calls++
	if f.events == nil {
		f.events = map[string][]notification.Event{}
	}
	f.events[in.UserID] = append(f.events[in.UserID], arg.([]notification.Event)...)
	return nil, nil
}

// TestDispatcherGroupCommits: 1,000 concurrent likes of one post become a
// handful of signals to its author's workflow, every like delivered once.
func TestDispatcherGroupCommits(t *testing.T) {
	f := &fakeTemporal{latency: 2 * time.Millisecond}
	d := &dispatch.Dispatcher{Temporal: f, BatchWindow: 2 * time.Second}
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			if err := d.Publish(context.Background(), event.New(event.Liked, fmt.Sprintf("fan%04d", i), "star", "p1", t0)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	events, signals := d.Stats()
	if len(f.events["star"]) != 1000 || events != 1000 {
		t.Fatalf("delivered %d events (stats %d), want 1000", len(f.events["star"]), events)
	}
	if signals > 100 || int64(f.calls) != signals {
		t.Errorf("%d signals for 1,000 likes, want far fewer", signals)
	}
	t.Logf("1,000 concurrent likes → %d signals", signals)
}

func TestDispatcherReportsFailures(t *testing.T) {
	f := &fakeTemporal{fail: "down"}
	d := &dispatch.Dispatcher{Temporal: f, BatchWindow: 2 * time.Second, Shards: 1}
	ctx := context.Background()
	var wg sync.WaitGroup
	var okErr, badErr error
	wg.Go(func() { okErr = d.Publish(ctx, event.New(event.Followed, "a", "up", "", t0)) })
	wg.Go(func() {
		badErr = d.Publish(ctx, event.New(event.Followed, "a", "down", "", t0), event.New(event.Followed, "b", "up", "", t0))
	})
	wg.Wait()
	if okErr != nil || badErr == nil {
		t.Errorf("errors = %v, %v; want nil, then the failed signal's", okErr, badErr)
	}
	if err := d.Publish(ctx, event.New(event.PostCreated, "a", "", "p", t0)); err != nil {
		t.Errorf("an event for nobody = %v", err)
	}
}

// TestDetachedThrottledDispatcher: a detached dispatcher never makes the
// publisher wait or fail; with Rate it sends no more signals than the rate
// allows, putting more events in each; every event is either delivered or
// counted as dropped.
func TestDetachedThrottledDispatcher(t *testing.T) {
	f := &fakeTemporal{latency: time.Millisecond}
	d := &dispatch.Dispatcher{Temporal: f, BatchWindow: 2 * time.Second, Detached: true, Rate: 5}
	const total = 3000
	start := time.Now()
	for i := range total {
		if err := d.Publish(context.Background(), event.New(event.Liked, fmt.Sprintf("fan%04d", i), "star", "p1", t0)); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		f.mu.Lock()
		delivered := len(f.events["star"])
		f.mu.Unlock()
		if int64(delivered)+d.Dropped() == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d + dropped %d of %d events", delivered, d.Dropped(), total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start).Seconds()
	_, signals := d.Stats()
	if limit := int64(5*elapsed) + 5; signals > limit {
		t.Errorf("%d signals in %.1fs, over the rate's %d", signals, elapsed, limit)
	}
	if delivered := total - d.Dropped(); delivered < signals*10 {
		t.Errorf("%d events in %d signals: throttled signals should carry many events", delivered, signals)
	}
	t.Logf("%d events: %d signals, %d dropped, in %.1fs", total, signals, d.Dropped(), elapsed)
}

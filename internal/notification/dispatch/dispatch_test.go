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

// fakeTemporal records SignalWithStartWorkflow calls to the shards.
type fakeTemporal struct {
	client.Client
	mu      sync.Mutex
	calls   int
	events  map[string][]notification.Event // recipient → events, in order
	signals []workflows.NotificationShardSignal
	shards  []int
	fail    string // a recipient whose signals fail
	latency time.Duration
	gate    chan struct{} // when set, calls wait until it is closed
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, signal string, arg any, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	time.Sleep(f.latency)
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if signal != workflows.SignalNotifyShard || opts.TaskQueue != workflows.QueueNotifications || opts.ID != id {
		return nil, fmt.Errorf("unexpected call %s %s %+v", id, signal, opts)
	}
	in := args[0].(*workflows.NotificationShardInput)
	if workflows.NotificationShardWorkflowID(in.Shard) != id || in.Window != 2*time.Second {
		return nil, fmt.Errorf("unexpected input %+v for %s", in, id)
	}
	sig := arg.(workflows.NotificationShardSignal)
	if sig.Window != 2*time.Second {
		return nil, fmt.Errorf("signal without the window: %+v", sig)
	}
	for _, r := range sig.Recipients {
		if f.fail != "" && r.UserID == f.fail {
			return nil, errors.New("temporal is down")
		}
	}
	f.calls++
	f.signals = append(f.signals, sig)
	f.shards = append(f.shards, in.Shard)
	if f.events == nil {
		f.events = map[string][]notification.Event{}
	}
	for _, r := range sig.Recipients {
		f.events[r.UserID] = append(f.events[r.UserID], r.Events...)
	}
	return nil, nil
}

// TestDispatcherGroupCommits: 1,000 concurrent likes of one post become a
// handful of signals to its author's shard, every like delivered once.
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
	for _, sig := range f.signals {
		if len(sig.Recipients) != 1 || sig.Recipients[0].UserID != "star" {
			t.Fatalf("signal recipients = %+v, want star once", sig.Recipients)
		}
	}
	t.Logf("1,000 concurrent likes → %d signals", signals)
}

// TestDispatcherOneSignalPerShardPerGroup: the follows of 400 users by
// concurrent requests reach Temporal as one signal per shard per group —
// not one per recipient — each recipient in its own shard (the one
// WorkflowID names) exactly once per signal, its events in order.
func TestDispatcherOneSignalPerShardPerGroup(t *testing.T) {
	f := &fakeTemporal{latency: 20 * time.Millisecond}
	d := &dispatch.Dispatcher{Temporal: f, BatchWindow: 2 * time.Second, Window: 50 * time.Millisecond}
	const users = 400
	var wg sync.WaitGroup
	for i := range users {
		u := fmt.Sprintf("user%03d", i)
		wg.Go(func() {
			// A follow and its undo in one request: the order must hold.
			if err := d.Publish(context.Background(), event.New(event.Followed, "fan", u, "", t0), event.New(event.Unfollowed, "fan", u, "", t0)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	_, signals := d.Stats()
	if signals >= users/10 {
		t.Errorf("%d signals for %d recipients, want about one per shard per group", signals, users)
	}
	for k, sig := range f.signals {
		seen := map[string]bool{}
		for _, r := range sig.Recipients {
			if seen[r.UserID] {
				t.Errorf("signal %d names %s twice", k, r.UserID)
			}
			seen[r.UserID] = true
			if want := workflows.NotificationShardWorkflowID(f.shards[k]); d.WorkflowID(r.UserID) != want {
				t.Errorf("%s signalled on %s, its shard is %s", r.UserID, want, d.WorkflowID(r.UserID))
			}
		}
	}
	for i := range users {
		u := fmt.Sprintf("user%03d", i)
		evs := f.events[u]
		if len(evs) != 3 || evs[0].Undo || !evs[1].Undo || !evs[2].Undo {
			t.Fatalf("%s got %+v, want the follow then its undos", u, evs)
		}
	}
	shards := map[int]bool{}
	for _, s := range f.shards {
		shards[s] = true
	}
	if len(shards) != 4 {
		t.Errorf("signals reached shards %v, want all 4", shards)
	}
	t.Logf("%d recipients → %d signals", users, signals)
}

func TestDispatcherReportsFailures(t *testing.T) {
	f := &fakeTemporal{fail: "down"}
	d := &dispatch.Dispatcher{Temporal: f, BatchWindow: 2 * time.Second, Shards: 1}
	ctx := context.Background()
	if err := d.Publish(ctx, event.New(event.Followed, "a", "up", "", t0)); err != nil {
		t.Errorf("a signal Temporal took = %v", err)
	}
	err := d.Publish(ctx, event.New(event.Followed, "a", "down", "", t0), event.New(event.Followed, "b", "up", "", t0))
	if err == nil || !strings.Contains(err.Error(), "temporal is down") {
		t.Errorf("a refused signal = %v, want its error", err)
	}
	if err := d.Publish(ctx, event.New(event.PostCreated, "a", "", "p", t0)); err != nil {
		t.Errorf("an event for nobody = %v", err)
	}
}

// TestDetachedDispatcherDoesNotWait: a detached dispatcher returns while
// Temporal has not taken the events (every signal is held), and delivers
// them all once it does.
func TestDetachedDispatcherDoesNotWait(t *testing.T) {
	f := &fakeTemporal{gate: make(chan struct{})}
	d := &dispatch.Dispatcher{Temporal: f, BatchWindow: 2 * time.Second, Detached: true}
	for i := range 100 {
		if err := d.Publish(context.Background(), event.New(event.Followed, "fan", fmt.Sprintf("user%03d", i), "", t0)); err != nil {
			t.Fatal(err)
		}
	}
	if events, _ := d.Stats(); events != 0 {
		t.Fatalf("%d events taken by a Temporal that takes none", events)
	}
	close(f.gate)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.events)
		f.mu.Unlock()
		if n == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 100 recipients signalled", n)
		}
		time.Sleep(10 * time.Millisecond)
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

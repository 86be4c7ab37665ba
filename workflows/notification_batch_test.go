package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/notification"
)

// delivery is one recorded Deliver call: when (test clock) and what.
type delivery struct {
	at     time.Duration
	groups string
}

// deliveries records Deliver calls of a test environment.
type deliveries struct {
	mu     sync.Mutex
	start  time.Time
	env    *testsuite.TestWorkflowEnvironment
	list   []delivery
	actors int
	inputs []activities.DeliverInput
}

func (d *deliveries) deliver(_ context.Context, in activities.DeliverInput) (*activities.DeliverResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var gs []string
	for _, g := range in.Groups {
		gs = append(gs, fmt.Sprintf("%s/%s:%s", g.Kind, g.PostID, strings.Join(g.Actors, ",")))
		d.actors += len(g.Actors)
	}
	d.list = append(d.list, delivery{at: d.env.Now().Sub(d.start), groups: strings.Join(gs, " ")})
	d.inputs = append(d.inputs, in)
	return &activities.DeliverResult{Written: len(in.Groups)}, nil
}

func (d *deliveries) String() string {
	var out []string
	for _, x := range d.list {
		out = append(out, fmt.Sprintf("@%v %s", x.at.Round(time.Second), x.groups))
	}
	return strings.Join(out, "\n")
}

func newBatchEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *deliveries) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	d := &deliveries{env: env, start: env.Now()}
	var a *activities.Notifications
	env.RegisterActivity(a)
	env.OnActivity(a.Deliver, mock.Anything, mock.Anything).Return(d.deliver)
	return env, d
}

var eventSeq int

func ev(kind notification.Kind, actor, postID string, at time.Duration) notification.Event {
	eventSeq++
	return notification.Event{ID: fmt.Sprintf("e%d", eventSeq), Kind: kind, ActorID: actor, PostID: postID,
		At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(at)}
}

func undo(kind notification.Kind, actor, postID string) notification.Event {
	e := ev(kind, actor, postID, 0)
	e.Undo = true
	return e
}

// signalAt sends events to the workflow at test-clock time at.
func signalAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, events ...notification.Event) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalNotify, events) }, at)
}

// TestNotificationBatchDeliversFirstAtOnceThenGroupsPerWindow: the event
// that ends a quiet period is delivered at once; the next ones wait for
// the window's end and arrive grouped by (kind, post), actors newest first;
// an undo within the window cancels its event; a quiet window ends the run.
func TestNotificationBatchDeliversFirstAtOnceThenGroupsPerWindow(t *testing.T) {
	env, d := newBatchEnv(t)
	signalAt(env, 0, ev(notification.Like, "ana", "p1", 0))
	signalAt(env, time.Second, ev(notification.Like, "ben", "p1", 1*time.Second), ev(notification.Follow, "dan", "", 1*time.Second))
	signalAt(env, 2*time.Second, ev(notification.Like, "cat", "p1", 2*time.Second), ev(notification.Like, "eve", "p1", 2*time.Second))
	signalAt(env, 3*time.Second, undo(notification.Like, "eve", "p1"), ev(notification.Repost, "fay", "p2", 3*time.Second))
	signalAt(env, 4*time.Second, undo(notification.Follow, "dan", ""), undo(notification.Like, "ana", "p1")) // ana's like is out already
	// Second window: one more like, then quiet.
	signalAt(env, 7*time.Second, ev(notification.Like, "gus", "p1", 7*time.Second))
	env.ExecuteWorkflow(NotificationBatch, &NotificationBatchInput{UserID: "u1", Window: 5 * time.Second})

	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	want := strings.Join([]string{
		"@0s like/p1:ana",
		"@5s like/p1:cat,ben repost/p2:fay",
		"@10s like/p1:gus",
	}, "\n")
	if got := d.String(); got != want {
		t.Errorf("deliveries:\n%s\nwant\n%s", got, want)
	}
	// Batch IDs differ per batch and come from the events.
	if d.inputs[0].BatchID == "" || d.inputs[0].BatchID == d.inputs[1].BatchID || d.inputs[1].UserID != "u1" {
		t.Errorf("inputs = %+v", d.inputs)
	}
}

// TestNotificationBatchUndoneStartEndsQuietly: a like undone in the same
// signal delivers nothing and the run ends after a quiet window.
func TestNotificationBatchUndoneStartEndsQuietly(t *testing.T) {
	env, d := newBatchEnv(t)
	signalAt(env, 0, ev(notification.Like, "ana", "p1", 0), undo(notification.Like, "ana", "p1"))
	env.ExecuteWorkflow(NotificationBatch, &NotificationBatchInput{UserID: "u1", Window: time.Second})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if len(d.list) != 0 {
		t.Errorf("deliveries:\n%s\nwant none", d)
	}
}

// TestNotificationBatchContinuesAsNewWithItsState runs 10,000 events at 200
// a second (signals of 20) through a chain of runs (each a fresh test environment started
// with the previous run's continue-as-new input, as the server would): each
// run takes about MaxEvents events, carries what arrived during its last
// delivery, and every event is delivered exactly once.
func TestNotificationBatchContinuesAsNewWithItsState(t *testing.T) {
	const total, maxEvents = 10_000, 1000
	var events []notification.Event
	for i := range total {
		events = append(events, ev(notification.Like, fmt.Sprintf("a%05d", i), "p1", 0))
	}
	in := &NotificationBatchInput{UserID: "u1", Window: time.Second, MaxEvents: maxEvents}
	next, delivered, runs := 0, 0, 0
	for next < total {
		runs++
		if runs > 30 {
			t.Fatalf("no end after %d runs (%d of %d events sent)", runs, next, total)
		}
		env, d := newBatchEnv(t)
		start := next
		var mu sync.Mutex
		// Signals of 20 events every 100 ms (the test environment buffers
		// at most 1,000 pending callbacks).
		for i, n := start, 0; i < total && n < 900; i, n = i+20, n+1 {
			end := min(i+20, total)
			env.RegisterDelayedCallback(func() {
				mu.Lock()
				next = max(next, end)
				mu.Unlock()
				env.SignalWorkflow(SignalNotify, events[i:end])
			}, time.Duration(n)*100*time.Millisecond)
		}
		env.ExecuteWorkflow(NotificationBatch, in)
		delivered += d.actors
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if !errors.As(err, &can) {
			if err != nil || next < total {
				t.Fatalf("run %d ended with %v after %d events, want continue-as-new", runs, err, next)
			}
			break
		}
		in = &NotificationBatchInput{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, in); err != nil {
			t.Fatal(err)
		}
		if got := next - start; got > maxEvents+50 {
			t.Errorf("run %d took %d events, want about %d", runs, got, maxEvents)
		}
		if !in.Busy || in.UserID != "u1" || in.MaxEvents != maxEvents || in.Window != time.Second {
			t.Fatalf("continue-as-new input = %+v", in)
		}
	}
	if delivered != total {
		t.Errorf("delivered %d actors in %d runs, want %d", delivered, runs, total)
	}
	if runs < total/maxEvents {
		t.Errorf("%d runs for %d events, want at least %d", runs, total, total/maxEvents)
	}
	t.Logf("%d events in %d runs", total, runs)
}

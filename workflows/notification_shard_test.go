package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// shardDeliveries records the DeliverMany calls of a test environment.
type shardDeliveries struct {
	mu     sync.Mutex
	start  time.Time
	env    *testsuite.TestWorkflowEnvironment
	lines  []string   // "@<t> <user> <groups>", in call order
	rounds [][]string // user IDs of each call
	inputs []activities.DeliverInput
	actors map[string][]string // user → actors delivered, in order
}

func (d *shardDeliveries) deliverMany(_ context.Context, ins []activities.DeliverInput) (*activities.DeliverResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var users []string
	for _, in := range ins {
		var gs []string
		for _, g := range in.Groups {
			gs = append(gs, fmt.Sprintf("%s/%s:%s", g.Kind, g.PostID, strings.Join(g.Actors, ",")))
			d.actors[in.UserID] = append(d.actors[in.UserID], g.Actors...)
		}
		d.lines = append(d.lines, fmt.Sprintf("@%v %s %s", d.env.Now().Sub(d.start).Round(time.Second), in.UserID, strings.Join(gs, " ")))
		users = append(users, in.UserID)
		d.inputs = append(d.inputs, in)
	}
	d.rounds = append(d.rounds, users)
	return &activities.DeliverResult{}, nil
}

func (d *shardDeliveries) String() string { return strings.Join(d.lines, "\n") }

func newShardEnv(t *testing.T, start time.Time) (*testsuite.TestWorkflowEnvironment, *shardDeliveries) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	if !start.IsZero() {
		env.SetStartTime(start)
	}
	d := &shardDeliveries{env: env, start: env.Now(), actors: map[string][]string{}}
	var a *activities.Notifications
	env.RegisterActivity(a)
	env.OnActivity(a.DeliverMany, mock.Anything, mock.Anything).Return(d.deliverMany)
	return env, d
}

// shardSignalAt sends one dispatcher signal at test-clock time at.
func shardSignalAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, recipients ...RecipientEvents) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalNotifyShard, NotificationShardSignal{Recipients: recipients}) }, at)
}

func to(user string, events ...notification.Event) RecipientEvents {
	return RecipientEvents{UserID: user, Events: events}
}

// runShardUntil runs the shard until test-clock time end, then cancels it
// (a shard never ends on its own).
func runShardUntil(t *testing.T, env *testsuite.TestWorkflowEnvironment, end time.Duration, in *NotificationShardInput) {
	t.Helper()
	env.RegisterDelayedCallback(env.CancelWorkflow, end)
	env.ExecuteWorkflow(NotificationShard, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("shard did not stop")
	}
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("shard ended with %v, want cancelled at the test's end", err)
	}
}

// TestNotificationShardBatchesEachRecipientOnItsOwn: within one shard, each
// recipient keeps NotificationBatch's rules independently — the first
// events of its quiet period at once, then the ones of its window grouped
// by (kind, post) at the window's end, undo within the window cancelling —
// and a recipient whose window ended quietly starts a new quiet period.
func TestNotificationShardBatchesEachRecipientOnItsOwn(t *testing.T) {
	env, d := newShardEnv(t, time.Time{})
	shardSignalAt(env, 0, to("u1", ev(notification.Like, "ana", "p1", 0)))
	shardSignalAt(env, time.Second,
		to("u1", ev(notification.Like, "ben", "p1", time.Second), ev(notification.Follow, "dan", "", time.Second)))
	shardSignalAt(env, 2*time.Second,
		to("u1", ev(notification.Like, "cat", "p1", 2*time.Second), ev(notification.Like, "eve", "p1", 2*time.Second)))
	shardSignalAt(env, 3*time.Second,
		to("u2", ev(notification.Comment, "ana", "q1", 3*time.Second)), // u2's quiet period ends: at once
		to("u1", undo(notification.Like, "eve", "p1"), ev(notification.Repost, "fay", "p2", 3*time.Second)))
	shardSignalAt(env, 4*time.Second,
		to("u1", undo(notification.Follow, "dan", ""), undo(notification.Like, "ana", "p1")), // ana's like is out already
		to("u2", ev(notification.Comment, "ben", "q1", 4*time.Second)))
	// A like and its undo in one signal: nothing to say, u3 is not kept.
	shardSignalAt(env, 6*time.Second, to("u3", ev(notification.Like, "ana", "p3", 6*time.Second), undo(notification.Like, "ana", "p3")))
	shardSignalAt(env, 7*time.Second, to("u1", ev(notification.Like, "gus", "p1", 7*time.Second)))
	// u2's window (3 s → 8 s) ended with one comment delivered at 8 s, the
	// next (8 s → 13 s) quietly: this comment starts a new quiet period.
	shardSignalAt(env, 14*time.Second, to("u2", ev(notification.Comment, "cat", "q1", 14*time.Second)))
	runShardUntil(t, env, 30*time.Second, &NotificationShardInput{Shard: 2, Window: 5 * time.Second})

	want := strings.Join([]string{
		"@0s u1 like/p1:ana",
		"@3s u2 comment/q1:ana",
		"@5s u1 like/p1:cat,ben repost/p2:fay",
		"@8s u2 comment/q1:ben",
		"@10s u1 like/p1:gus",
		"@14s u2 comment/q1:cat",
	}, "\n")
	if got := d.String(); got != want {
		t.Errorf("deliveries:\n%s\nwant\n%s", got, want)
	}
	// Batch IDs differ per batch and come from the events.
	ids := map[string]bool{}
	for _, in := range d.inputs {
		if in.BatchID == "" || ids[in.BatchID] {
			t.Errorf("batch ID %q empty or repeated", in.BatchID)
		}
		ids[in.BatchID] = true
	}
}

// TestNotificationShardRoundsAreSorted: recipients due together go out in
// one DeliverMany, in user ID order whatever order the signals named them
// (workflow code never ranges over its map), and the same signals give the
// same activity inputs, batch IDs included.
func TestNotificationShardRoundsAreSorted(t *testing.T) {
	users := []string{"u9", "u3", "u7", "u1", "u5", "u2", "u8", "u4", "u6", "u0"}
	events := make([]notification.Event, len(users))
	for i := range users {
		events[i] = ev(notification.Follow, "fan", "", 0)
	}
	run := func() *shardDeliveries {
		env, d := newShardEnv(t, time.Time{})
		var rs []RecipientEvents
		for i, u := range users {
			rs = append(rs, to(u, events[i]))
		}
		shardSignalAt(env, time.Second, rs...)
		runShardUntil(t, env, 10*time.Second, &NotificationShardInput{Window: time.Second})
		return d
	}
	a, b := run(), run()
	if len(a.rounds) != 1 || !slices.IsSorted(a.rounds[0]) || len(a.rounds[0]) != len(users) {
		t.Fatalf("rounds = %v, want one round of every user, sorted", a.rounds)
	}
	if fmt.Sprint(a.inputs) != fmt.Sprint(b.inputs) {
		t.Errorf("two runs of the same signals delivered\n%v\nand\n%v", a.inputs, b.inputs)
	}
}

// TestNotificationShardContinuesAsNewWithItsState runs 6,000 events for
// three recipients (one hot: half of them) at 200 a second through a chain
// of runs, each a fresh test environment started with the previous run's
// continue-as-new input at the previous run's clock, as the server would:
// each run takes about MaxEvents events, carries the recipients with
// pending events or an open window (their window start included, so
// carried events wait for the window's end), and every event is delivered
// exactly once, in order per recipient.
func TestNotificationShardContinuesAsNewWithItsState(t *testing.T) {
	const total, maxEvents = 6000, 1000
	type sent struct {
		user string
		e    notification.Event
	}
	var all []sent
	for i := range total {
		u := []string{"hot", "hot", "u1", "u2"}[i%4]
		all = append(all, sent{u, ev(notification.Like, fmt.Sprintf("a%05d", i), "p-"+u, 0)})
	}
	in := &NotificationShardInput{Shard: 1, Window: time.Second, MaxEvents: maxEvents}
	var clock time.Time
	next, runs := 0, 0
	delivered := map[string][]string{}
	for next < total || len(in.Recipients) > 0 {
		runs++
		if runs > 30 {
			t.Fatalf("no end after %d runs (%d of %d events sent)", runs, next, total)
		}
		env, d := newShardEnv(t, clock)
		start := next
		var mu sync.Mutex
		// Signals of 20 events every 100 ms (the test environment buffers
		// at most 1,000 pending callbacks).
		for i, n := start, 0; i < total && n < 900; i, n = i+20, n+1 {
			end := min(i+20, total)
			var rs []RecipientEvents
			for _, s := range all[i:end] {
				if k := len(rs) - 1; k >= 0 && rs[k].UserID == s.user {
					rs[k].Events = append(rs[k].Events, s.e)
				} else {
					rs = append(rs, to(s.user, s.e))
				}
			}
			env.RegisterDelayedCallback(func() {
				mu.Lock()
				next = max(next, end)
				mu.Unlock()
				env.SignalWorkflow(SignalNotifyShard, NotificationShardSignal{Recipients: rs})
			}, time.Duration(n)*100*time.Millisecond)
		}
		if next >= total {
			env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute) // the tail: deliver what was carried
		}
		env.ExecuteWorkflow(NotificationShard, in)
		for u, as := range d.actors {
			delivered[u] = append(delivered[u], as...)
		}
		clock = env.Now()
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if !errors.As(err, &can) {
			if next < total || err == nil || !strings.Contains(err.Error(), "canceled") {
				t.Fatalf("run %d ended with %v after %d events, want continue-as-new", runs, err, next)
			}
			break
		}
		in = &NotificationShardInput{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, in); err != nil {
			t.Fatal(err)
		}
		if got := next - start; got > maxEvents+50 {
			t.Errorf("run %d took %d events, want about %d", runs, got, maxEvents)
		}
		if in.Shard != 1 || in.MaxEvents != maxEvents || in.Window != time.Second {
			t.Fatalf("continue-as-new input = %+v", in)
		}
		for _, r := range in.Recipients {
			if r.Pending.Len() == 0 && !clock.Before(r.Started.Add(in.Window)) {
				t.Errorf("run %d carried %s, quiet and out of its window", runs, r.UserID)
			}
			if r.Pending.Len() > 0 && r.Started.IsZero() {
				t.Errorf("run %d carried %s with events and no window start", runs, r.UserID)
			}
		}
	}
	got := 0
	for _, u := range []string{"hot", "u1", "u2"} {
		var want []string
		for _, s := range all {
			if s.user == u {
				want = append(want, s.e.ActorID)
			}
		}
		// Actors come newest first within a group; all events have one
		// time here, so the order within a batch is arrival order.
		as := slices.Clone(delivered[u])
		slices.Sort(as)
		if !slices.Equal(as, want) {
			t.Errorf("%s: delivered %d actors, want %d, each once", u, len(delivered[u]), len(want))
		}
		got += len(delivered[u])
	}
	if runs < total/maxEvents {
		t.Errorf("%d runs for %d events, want at least %d", runs, total, total/maxEvents)
	}
	t.Logf("%d events (%d delivered) in %d runs", total, got, runs)
}

// TestNotificationShardStartsFromCarriedState: a run started with carried
// recipients keeps their windows — pending events inside an open window
// wait for its end, pending events of a quiet period go out at once, a new
// event for a recipient whose window is open waits too — and continues as
// new after MaxEvents carrying only recipients with pending events or an
// open window.
func TestNotificationShardStartsFromCarriedState(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env, d := newShardEnv(t, start)
	pending := func(events ...notification.Event) notification.Pending {
		var p notification.Pending
		p.Add(events...)
		return p
	}
	in := &NotificationShardInput{Shard: 0, Window: 2 * time.Second, MaxEvents: 3, Recipients: []NotificationRecipient{
		{UserID: "u1", Pending: pending(ev(notification.Like, "ana", "p1", 0)), Started: start.Add(-500 * time.Millisecond)},
		{UserID: "u2", Pending: pending(ev(notification.Follow, "ben", "", 0))},
		{UserID: "u3", Started: start.Add(-time.Second)},
	}}
	shardSignalAt(env, 500*time.Millisecond, to("u3", ev(notification.Like, "cat", "p3", 0)))
	// Three events in this run: it continues as new after the third.
	shardSignalAt(env, 4*time.Second, to("u4", ev(notification.Like, "dan", "p4", 0)), to("u1", ev(notification.Like, "eve", "p1", 0)))
	env.ExecuteWorkflow(NotificationShard, in)

	want := strings.Join([]string{
		"@0s u2 follow/:ben",
		"@1s u3 like/p3:cat",
		"@2s u1 like/p1:ana",
		"@4s u1 like/p1:eve", // u1's window (1.5 s → 3.5 s) ended quietly
		"@4s u4 like/p4:dan",
	}, "\n")
	if got := d.String(); got != want {
		t.Errorf("deliveries:\n%s\nwant\n%s", got, want)
	}
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("run ended with %v, want continue-as-new", err)
	}
	next := &NotificationShardInput{}
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, next); err != nil {
		t.Fatal(err)
	}
	var carried []string
	for _, r := range next.Recipients {
		carried = append(carried, fmt.Sprintf("%s@%v+%d", r.UserID, r.Started.Sub(start), r.Pending.Len()))
	}
	// u2 and u3's windows ended quietly: only the open windows travel.
	if got := strings.Join(carried, " "); got != "u1@4s+0 u4@4s+0" || next.Window != 2*time.Second || next.MaxEvents != 3 {
		t.Errorf("carried %q (%+v), want u1 and u4 with their windows", got, next)
	}
}

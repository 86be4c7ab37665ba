package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/notification"
)

// Defaults and bounds of NotificationBatch.
const (
	// DefaultNotificationWindow is how long events are collected after a
	// delivery before the next one.
	DefaultNotificationWindow = 5 * time.Second
	// DefaultNotificationMaxEvents is how many events one run takes before
	// it continues as new.
	DefaultNotificationMaxEvents = 1000
	// DefaultNotificationIdle is how long a quiet batching workflow stays
	// for the next event.
	DefaultNotificationIdle = 10 * time.Minute
	// notificationMaxHistoryBytes makes a run continue as new early when
	// its history grows big (large batches of a viral post).
	notificationMaxHistoryBytes = 8 << 20
)

// NotificationBatchInput is a recipient's batching state; the fields after
// MaxEvents travel across continue-as-new.
type NotificationBatchInput struct {
	UserID string
	// Window is how long events are collected after a delivery (default
	// DefaultNotificationWindow).
	Window time.Duration
	// MaxEvents bounds the events one run takes before it continues as new
	// (default DefaultNotificationMaxEvents).
	MaxEvents int
	// Idle is how long a quiet workflow waits for the next event before it
	// ends (default DefaultNotificationIdle): a recipient notified again
	// within it costs a signal, not a new workflow start.
	Idle time.Duration
	// Pending are events received and not yet delivered.
	Pending notification.Pending
	// Busy is true when the run starts inside a window (after a
	// continue-as-new): pending events then wait for the window's end.
	Busy bool
}

// NotificationBatch is one recipient's batching workflow, fed by
// signal-with-start (SignalNotify, batches of notification.Event; see
// NotificationWorkflowID).
//
// Retired: nothing starts it any more — dispatch.Dispatcher feeds the
// NotificationShard workflows, which keep the same rules per recipient
// without a workflow start per quiet recipient. It stays registered so
// that runs started before the shards (in a deployed cluster, each waits
// up to Idle) finish; remove it a release later.
//
// The first events of a quiet period are delivered at once; then the
// workflow collects until Window after that delivery started and delivers
// what came (grouped by kind and
// post, undone events cancelled: notification.Pending) in one activity
// (activities.Notifications.Deliver), again and again while events keep
// coming. After a window without events it waits up to Idle for the next
// one (delivered at once), then ends, so idle recipients cost nothing; their
// next event starts a new run. After MaxEvents events
// (or when Temporal suggests it, or the history passes 8 MB) it continues as
// new right after a delivery, carrying the few events that arrived during
// it, which bounds the history whatever the event rate.
func NotificationBatch(ctx workflow.Context, in *NotificationBatchInput) error {
	if in.Window <= 0 {
		in.Window = DefaultNotificationWindow
	}
	if in.MaxEvents <= 0 {
		in.MaxEvents = DefaultNotificationMaxEvents
	}
	if in.Idle <= 0 {
		in.Idle = DefaultNotificationIdle
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})
	b := &batcher{in: in, pending: in.Pending, signals: workflow.GetSignalChannel(ctx, SignalNotify)}
	return b.run(ctx)
}

type batcher struct {
	in       *NotificationBatchInput
	pending  notification.Pending
	signals  workflow.ReceiveChannel
	received int
	// started is when the last delivery started: the next window counts
	// from there, so a delivery's own duration does not add to the wait.
	started time.Time
}

// drain takes every signal already received, without blocking.
func (b *batcher) drain() {
	for {
		var events []notification.Event
		if !b.signals.ReceiveAsync(&events) {
			return
		}
		b.add(events)
	}
}

func (b *batcher) add(events []notification.Event) {
	b.pending.Add(events...)
	b.received += len(events)
}

// collect waits until d has passed, taking signals as they come.
func (b *batcher) collect(ctx workflow.Context, d time.Duration) {
	if d <= 0 {
		b.drain()
		return
	}
	done := false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(ctx, d), func(workflow.Future) { done = true })
	sel.AddReceive(b.signals, func(c workflow.ReceiveChannel, _ bool) {
		var events []notification.Event
		c.Receive(ctx, &events)
		b.add(events)
	})
	for !done {
		sel.Select(ctx)
	}
	b.drain()
}

// deliver hands the pending events, grouped, to the delivery activity.
func (b *batcher) deliver(ctx workflow.Context) error {
	groups, batchID := b.pending.Take()
	if len(groups) == 0 {
		return nil
	}
	b.started = workflow.Now(ctx)
	var a *activities.Notifications
	// Retries are unlimited: an error here means the workflow is being
	// cancelled.
	return workflow.ExecuteActivity(ctx, a.Deliver, activities.DeliverInput{UserID: b.in.UserID, BatchID: batchID, Groups: groups}).Get(ctx, nil)
}

func (b *batcher) run(ctx workflow.Context) error {
	if !b.in.Busy {
		// A quiet period ends: the events that started this run (the
		// signal of signal-with-start) go out at once.
		ok, _ := workflow.AwaitWithTimeout(ctx, b.in.Window, func() bool { return b.signals.Len() > 0 || b.pending.Len() > 0 })
		if !ok {
			return nil
		}
		b.drain()
		if err := b.deliver(ctx); err != nil {
			return err
		}
	}
	for {
		wait := b.in.Window
		if !b.started.IsZero() {
			wait -= workflow.Now(ctx).Sub(b.started)
		}
		b.collect(ctx, wait)
		if b.pending.Len() == 0 {
			// A quiet window. Stay for Idle: the next event (a new quiet
			// period's first) goes out at once, and a recipient notified
			// often costs signals rather than workflow starts — on the
			// embedded server starts are the scarce resource.
			ok, _ := workflow.AwaitWithTimeout(ctx, b.in.Idle, func() bool { return b.signals.Len() > 0 })
			if !ok {
				return nil // done until the next event starts a new run
			}
			b.drain()
		}
		if err := b.deliver(ctx); err != nil {
			return err
		}
		info := workflow.GetInfo(ctx)
		if b.received >= b.in.MaxEvents || info.GetContinueAsNewSuggested() || info.GetCurrentHistorySize() > notificationMaxHistoryBytes {
			b.drain()
			return workflow.NewContinueAsNewError(ctx, NotificationBatch, &NotificationBatchInput{
				UserID: b.in.UserID, Window: b.in.Window, MaxEvents: b.in.MaxEvents, Idle: b.in.Idle, Pending: b.pending, Busy: true,
			})
		}
	}
}

package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/notification"
)

// Bounds of NotificationShard.
const (
	// notificationShardMaxHistory makes a run continue as new when its
	// history grows long (many signals between deliveries).
	notificationShardMaxHistory = 10_000
	// notificationDeliverChunk is the fewest recipients one DeliverMany
	// activity takes; a round with more runs several activities at once,
	// at most notificationMaxDeliveries of them.
	notificationDeliverChunk  = 50
	notificationMaxDeliveries = 100
)

// RecipientEvents are events for one recipient, in order.
type RecipientEvents struct {
	UserID string
	Events []notification.Event
}

// NotificationShardSignal is the payload of SignalNotifyShard: the events
// of one dispatcher group for the recipients of one shard, and the
// sender's batching configuration.
type NotificationShardSignal struct {
	Recipients []RecipientEvents
	// Window and MaxEvents, when positive, replace the shard's: the
	// sender's configuration wins, so a changed notifications.window
	// reaches shards that run for months.
	Window    time.Duration `json:",omitempty"`
	MaxEvents int           `json:",omitempty"`
}

// NotificationRecipient is one recipient's batching state inside a shard.
type NotificationRecipient struct {
	UserID string
	// Pending are events received and not yet delivered.
	Pending notification.Pending
	// Started is when the recipient's last delivery started; zero when the
	// recipient is in a quiet period (its next events go out at once).
	// Events that arrive before Started+Window wait for it.
	Started time.Time
}

// NotificationShardInput is a shard's configuration and, across
// continue-as-new, its state: the recipients with pending events or an
// open window, sorted by user ID.
type NotificationShardInput struct {
	Shard int
	// Window is how long a recipient's events are collected after a
	// delivery to that recipient (default DefaultNotificationWindow).
	Window time.Duration
	// MaxEvents is how many events a run takes before it continues as
	// new (default DefaultNotificationMaxEvents).
	MaxEvents  int
	Recipients []NotificationRecipient `json:",omitempty"`
}

// NotificationShard is one notification shard: a long-running workflow fed
// by signal-with-start (SignalNotifyShard) with the events of many
// recipients — those whose user ID hashes to the shard
// (NotificationShardWorkflowID). It keeps NotificationBatch's rules per
// recipient, as a map entry instead of a workflow:
//
//   - the first events of a recipient's quiet period are delivered at once
//     (in the next round);
//   - then the recipient's events are collected until Window after that
//     delivery started, grouped by (kind, post) with undo cancelling
//     (notification.Pending), and delivered; again while events come;
//   - a recipient with nothing pending when its window ends leaves the
//     state: a quiet recipient costs nothing.
//
// One timer waits for the earliest window end; a round delivers every
// recipient that is due in DeliverMany activities (one per 50 recipients
// or more, so a round never has more than 100 activities pending) and
// waits for them before the next round, so a recipient's deliveries stay
// in order. After MaxEvents events, when Temporal suggests it or when the
// history passes 10,000 events or 8 MB, the shard continues as new
// carrying the recipients with pending events or an open window.
func NotificationShard(ctx workflow.Context, in *NotificationShardInput) error {
	s := &shard{
		in:         in,
		recipients: make(map[string]*NotificationRecipient, len(in.Recipients)),
		signals:    workflow.GetSignalChannel(ctx, SignalNotifyShard),
	}
	s.defaults()
	for i := range in.Recipients {
		r := in.Recipients[i]
		s.keep(&r)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second, // one recipient's delivery takes well under a second
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})
	return s.run(ctx)
}

type shard struct {
	in         *NotificationShardInput
	recipients map[string]*NotificationRecipient
	order      []string // the keys of recipients, sorted
	signals    workflow.ReceiveChannel
	received   int
}

func (s *shard) defaults() {
	if s.in.Window <= 0 {
		s.in.Window = DefaultNotificationWindow
	}
	if s.in.MaxEvents <= 0 {
		s.in.MaxEvents = DefaultNotificationMaxEvents
	}
}

// add takes one signal in. A new recipient whose events all cancel out
// (a like and its unlike) is not kept.
func (s *shard) add(sig NotificationShardSignal) {
	if sig.Window > 0 {
		s.in.Window = sig.Window
	}
	if sig.MaxEvents > 0 {
		s.in.MaxEvents = sig.MaxEvents
	}
	for _, re := range sig.Recipients {
		s.received += len(re.Events)
		r, ok := s.recipients[re.UserID]
		if !ok {
			r = &NotificationRecipient{UserID: re.UserID}
		}
		r.Pending.Add(re.Events...)
		if !ok && r.Pending.Len() > 0 {
			s.keep(r)
		}
	}
}

// drain takes every signal already received, without blocking.
func (s *shard) drain() {
	for {
		var sig NotificationShardSignal
		if !s.signals.ReceiveAsync(&sig) {
			return
		}
		s.add(sig)
	}
}

// ids are the recipients' user IDs, sorted. The shard keeps them sorted
// beside its map instead of ranging over the map: workflow code must not
// depend on Go's random map order.
func (s *shard) ids() []string { return s.order }

// keep adds a new recipient to the state.
func (s *shard) keep(r *NotificationRecipient) {
	s.recipients[r.UserID] = r
	if i, found := slices.BinarySearch(s.order, r.UserID); !found {
		s.order = slices.Insert(s.order, i, r.UserID)
	}
}

// due is when a recipient's pending events go out: at once in a quiet
// period, else at its window's end.
func (s *shard) due(r *NotificationRecipient) time.Time {
	if r.Started.IsZero() {
		return time.Time{}
	}
	return r.Started.Add(s.in.Window)
}

// take empties the recipients that are due at now into deliveries, in
// user ID order, and drops those whose window ended quietly.
func (s *shard) take(now time.Time) []activities.DeliverInput {
	var out []activities.DeliverInput
	kept := s.order[:0]
	for _, id := range s.order {
		r := s.recipients[id]
		if now.Before(s.due(r)) {
			kept = append(kept, id)
			continue
		}
		if r.Pending.Len() == 0 {
			delete(s.recipients, id) // a quiet window: back to a quiet period
			continue
		}
		kept = append(kept, id)
		groups, batchID := r.Pending.Take()
		r.Started = now
		out = append(out, activities.DeliverInput{UserID: id, BatchID: batchID, Groups: groups})
	}
	clear(s.order[len(kept):])
	s.order = kept
	return out
}

// next is the earliest window end among the recipients; ok is false when
// there is no recipient.
func (s *shard) next() (at time.Time, ok bool) {
	for _, id := range s.ids() {
		d := s.due(s.recipients[id])
		if !ok || d.Before(at) {
			at, ok = d, true
		}
	}
	return at, ok
}

// deliver runs the round's deliveries, in chunks, and waits for all.
func (s *shard) deliver(ctx workflow.Context, ins []activities.DeliverInput) error {
	chunk := max(notificationDeliverChunk, (len(ins)+notificationMaxDeliveries-1)/notificationMaxDeliveries)
	var a *activities.Notifications
	var futures []workflow.Future
	for start := 0; start < len(ins); start += chunk {
		batch := ins[start:min(start+chunk, len(ins))]
		futures = append(futures, workflow.ExecuteActivity(ctx, a.DeliverMany, batch))
	}
	for _, f := range futures {
		// Retries are unlimited: an error here means the workflow is being
		// cancelled.
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// carry is the state the next run starts with: recipients with pending
// events or an open window at now.
func (s *shard) carry(now time.Time) *NotificationShardInput {
	next := &NotificationShardInput{Shard: s.in.Shard, Window: s.in.Window, MaxEvents: s.in.MaxEvents}
	for _, id := range s.ids() {
		r := s.recipients[id]
		if r.Pending.Len() == 0 && !now.Before(s.due(r)) {
			continue
		}
		next.Recipients = append(next.Recipients, *r)
	}
	return next
}

func (s *shard) run(ctx workflow.Context) error {
	var (
		timer       workflow.Future
		timerAt     time.Time
		cancelTimer workflow.CancelFunc
		cancelled   bool
	)
	for {
		s.drain()
		ins := s.take(workflow.Now(ctx))
		if len(ins) > 0 {
			if err := s.deliver(ctx, ins); err != nil {
				return err
			}
		}
		info := workflow.GetInfo(ctx)
		if s.received >= s.in.MaxEvents || info.GetContinueAsNewSuggested() ||
			info.GetCurrentHistoryLength() > notificationShardMaxHistory || info.GetCurrentHistorySize() > notificationMaxHistoryBytes {
			s.drain()
			return workflow.NewContinueAsNewError(ctx, NotificationShard, s.carry(workflow.Now(ctx)))
		}
		if len(ins) > 0 {
			continue // signals came during the round; recipients may be due
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(s.signals, func(c workflow.ReceiveChannel, _ bool) {
			var sig NotificationShardSignal
			c.Receive(ctx, &sig)
			s.add(sig)
		})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { cancelled = true })
		if at, ok := s.next(); ok {
			// One timer, for the earliest window end. Window ends only move
			// later (each delivery opens a window ending after every open
			// one), so a timer that fires early is just a wasted round;
			// a replaced one is cancelled.
			if timer == nil || at.Before(timerAt) {
				if cancelTimer != nil {
					cancelTimer()
				}
				tctx, cancel := workflow.WithCancel(ctx)
				wait := max(at.Sub(workflow.Now(ctx)), time.Millisecond)
				timer, timerAt, cancelTimer = workflow.NewTimer(tctx, wait), at, cancel
			}
			sel.AddFuture(timer, func(workflow.Future) { timer, cancelTimer = nil, nil })
		}
		sel.Select(ctx)
		if cancelled {
			return temporal.NewCanceledError()
		}
	}
}

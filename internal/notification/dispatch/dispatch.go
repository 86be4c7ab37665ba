// Package dispatch connects notifications to Temporal: the Dispatcher turns
// domain events into notification events and hands them, durably, to the
// notification shard workflows that batch them per recipient;
// EnsureDigestSchedules keeps the Temporal schedules of the email digests
// in place.
//
// The Dispatcher is an event.Publisher (appended to the app's event
// fan-out). It maps each event to its recipient (the subject of a like,
// comment, repost, quote, mention, follow or request), picks the
// recipient's shard (a stable hash of the user ID), groups the events of
// concurrent requests per shard for a few milliseconds (group commit, like
// feed.Dispatcher) and sends, per shard and group, ONE SignalWithStart to
// that shard's long-running NotificationShard workflow carrying every
// recipient's events.
//
// Why: a workflow start per quiet recipient (the NotificationBatch design
// before the shards) caps notifications at what Temporal starts per second
// (~30 simple workflows/s on the embedded server of a 2-core machine,
// shared with the feed fan-out). With shards, Temporal sees at most
// Shards signals per group window whatever the number of recipients or
// likes, and no workflow start at all once the shards run.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/workflows"
)

// Dispatcher queues notification events on the notification shard
// workflows.
type Dispatcher struct {
	Temporal client.Client
	// Shards is the number of shard workflows and of grouping loops, one
	// per shard (default 4); a recipient's events always go through the
	// same one, in order. Changing it moves recipients to other shards: a
	// moved recipient whose window was open may get one extra early
	// delivery.
	Shards int
	// Window is how long a loop gathers requests before sending (default
	// 5 ms); MaxGroup sends early (default 512 events).
	Window   time.Duration
	MaxGroup int
	// BatchWindow and MaxEvents configure the shard workflows
	// (NotificationShardInput.Window, MaxEvents; sent with every signal, so
	// running shards take a new value); zero uses their defaults.
	BatchWindow time.Duration
	MaxEvents   int
	// TaskQueue runs the shard workflows (default
	// workflows.QueueNotifications; benchmarks use their own). On another
	// queue the shards are named "<queue>/notify-shard:<n>", so such a
	// dispatcher never signals the app's shards.
	TaskQueue string
	// Detached makes Publish return once the events are queued instead of
	// once Temporal took them: the request that caused them (CreatePost
	// with mentions, a like) never waits on — or fails with — a notification
	// that Temporal is slow to accept. A refused signal is retried with
	// backoff and then logged as lost; events still queued when the process
	// dies are lost. Posts, likes and follows are stored before they are
	// published, so only the notification can be lost, never the action.
	Detached bool
	// Log receives the signals given up on (Detached); nil discards.
	Log *slog.Logger
	// Rate, when positive, bounds the signals sent per second (all loops
	// together), so notifications cannot take more Temporal capacity than
	// that: a loop held back gathers more events per signal meanwhile.
	// With Detached, requests that find their loop's queue full are
	// dropped and logged instead of making the caller wait. Optional: with
	// shards a loop sends at most one signal per group window anyway.
	Rate float64

	once    sync.Once
	limiter *rate.Limiter
	queues  []chan request
	signals atomic.Int64
	events  atomic.Int64
	dropped atomic.Int64
}

var _ event.Publisher = (*Dispatcher)(nil)

// Routed is a notification event for one recipient.
type Routed struct {
	UserID string
	Event  notification.Event
}

var kinds = map[event.Kind]notification.Kind{
	event.Liked:           notification.Like,
	event.Commented:       notification.Comment,
	event.Reposted:        notification.Repost,
	event.Quoted:          notification.Quote,
	event.Mentioned:       notification.Mention,
	event.Followed:        notification.Follow,
	event.FollowRequested: notification.FollowRequest,
	event.FriendRequested: notification.FriendRequest,
	event.FriendAccepted:  notification.FriendAccepted,
}

// undoes maps the events that take something back to the kinds they
// cancel while still pending.
var undoes = map[event.Kind][]notification.Kind{
	event.Unliked:      {notification.Like},
	event.RepostUndone: {notification.Repost},
	event.Unfollowed:   {notification.Follow, notification.FollowRequest},
	event.Unfriended:   {notification.FriendAccepted},
}

// Route maps events to notification events addressed to their subjects.
// Events about nobody else (no subject, or your own post) map to nothing,
// and so do the follows a friendship creates: an event of friend_accepted
// between two users makes the follows between them in the same call silent.
func Route(events ...event.Event) []Routed {
	friends := map[[2]string]bool{}
	for _, e := range events {
		if e.Kind == event.FriendAccepted {
			friends[[2]string{e.ActorID, e.SubjectID}] = true
			friends[[2]string{e.SubjectID, e.ActorID}] = true
		}
	}
	var out []Routed
	for _, e := range events {
		if e.SubjectID == "" || e.ActorID == "" || e.SubjectID == e.ActorID {
			continue
		}
		if k, ok := kinds[e.Kind]; ok {
			if e.Kind == event.Followed && friends[[2]string{e.ActorID, e.SubjectID}] {
				continue
			}
			post := e.PostID
			if !k.HasPost() {
				post = ""
			}
			out = append(out, Routed{UserID: e.SubjectID, Event: notification.Event{ID: e.ID, Kind: k, ActorID: e.ActorID, PostID: post, At: e.At}})
			continue
		}
		for _, k := range undoes[e.Kind] {
			post := e.PostID
			if !k.HasPost() {
				post = ""
			}
			out = append(out, Routed{UserID: e.SubjectID, Event: notification.Event{ID: e.ID, Kind: k, ActorID: e.ActorID, PostID: post, At: e.At, Undo: true}})
		}
	}
	return out
}

type request struct {
	routed []Routed
	done   chan error
}

func (d *Dispatcher) shards() int {
	if d.Shards > 0 {
		return d.Shards
	}
	return 4
}

func (d *Dispatcher) shardOf(userID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return int(h.Sum32() % uint32(d.shards()))
}

// WorkflowID is the ID of the shard workflow that batches userID's
// notifications.
func (d *Dispatcher) WorkflowID(userID string) string { return d.shardID(d.shardOf(userID)) }

func (d *Dispatcher) shardID(shard int) string {
	id := workflows.NotificationShardWorkflowID(shard)
	if d.TaskQueue != "" && d.TaskQueue != workflows.QueueNotifications {
		id = d.TaskQueue + "/" + id
	}
	return id
}

// Publish routes the events and waits until Temporal took them (or, when
// Detached, until they are queued).
func (d *Dispatcher) Publish(ctx context.Context, events ...event.Event) error {
	routed := Route(events...)
	if len(routed) == 0 {
		return nil
	}
	d.once.Do(d.start)
	byShard := map[int][]Routed{}
	for _, r := range routed {
		s := d.shardOf(r.UserID)
		byShard[s] = append(byShard[s], r)
	}
	var waits []chan error
	for shard, rs := range byShard {
		r := request{routed: rs, done: make(chan error, 1)}
		if d.Detached {
			select {
			case d.queues[shard] <- r:
			default:
				d.dropped.Add(int64(len(rs)))
				if d.Log != nil {
					d.Log.Warn("notification events dropped: the dispatcher's queue is full", "events", len(rs))
				}
			}
			continue
		}
		select {
		case d.queues[shard] <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
		waits = append(waits, r.done)
	}
	if d.Detached {
		return nil
	}
	var errs []error
	for _, w := range waits {
		select {
		case err := <-w:
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// Stats are the dispatcher's counters: notification events taken and
// signals sent.
func (d *Dispatcher) Stats() (events, signals int64) { return d.events.Load(), d.signals.Load() }

// Dropped is how many events a Detached dispatcher dropped because its
// queue was full.
func (d *Dispatcher) Dropped() int64 { return d.dropped.Load() }

func (d *Dispatcher) start() {
	if d.Rate > 0 {
		d.limiter = rate.NewLimiter(rate.Limit(d.Rate), max(1, int(d.Rate)))
	}
	d.queues = make([]chan request, d.shards())
	for i := range d.queues {
		d.queues[i] = make(chan request, 1024)
		go d.loop(i, d.queues[i])
	}
}

// loop gathers the requests of one shard and sends one signal per group.
func (d *Dispatcher) loop(shard int, q chan request) {
	window, maxGroup := d.Window, d.MaxGroup
	if window <= 0 {
		window = 5 * time.Millisecond
	}
	if maxGroup <= 0 {
		maxGroup = 512
	}
	for first := range q {
		d.send(shard, event.Gather(first, q, window, maxGroup, func(r request) int { return len(r.routed) }))
	}
}

// send signals the shard once with the events of every recipient of
// group (each recipient's in order) and answers every request with the
// signal's error. Detached, a refused signal is retried with backoff
// (5 attempts) before it is logged as lost.
func (d *Dispatcher) send(shard int, group []request) {
	var users []string
	byUser := map[string][]notification.Event{}
	events := 0
	for _, r := range group {
		for _, x := range r.routed {
			if _, ok := byUser[x.UserID]; !ok {
				users = append(users, x.UserID)
			}
			byUser[x.UserID] = append(byUser[x.UserID], x.Event)
			events++
		}
	}
	sig := workflows.NotificationShardSignal{Window: d.BatchWindow, MaxEvents: d.MaxEvents, Recipients: make([]workflows.RecipientEvents, 0, len(users))}
	for _, u := range users {
		sig.Recipients = append(sig.Recipients, workflows.RecipientEvents{UserID: u, Events: byUser[u]})
	}
	err := d.signal(shard, sig, events)
	for attempt := 1; err != nil && d.Detached && attempt < 5; attempt++ {
		time.Sleep(time.Duration(attempt*attempt) * time.Second)
		err = d.signal(shard, sig, events)
	}
	if err != nil && d.Detached && d.Log != nil {
		d.Log.Error("notification events lost: Temporal refused them", "shard", shard, "recipients", len(users), "events", events, "err", err)
	}
	if err != nil {
		err = fmt.Errorf("notify shard %d: %w", shard, err)
	}
	for _, r := range group {
		r.done <- err
	}
}

func (d *Dispatcher) signal(shard int, sig workflows.NotificationShardSignal, events int) error {
	if d.limiter != nil {
		_ = d.limiter.Wait(context.Background())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := d.shardID(shard)
	queue := d.TaskQueue
	if queue == "" {
		queue = workflows.QueueNotifications
	}
	_, err := d.Temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalNotifyShard, sig,
		client.StartWorkflowOptions{ID: id, TaskQueue: queue},
		workflows.NotificationShard, &workflows.NotificationShardInput{Shard: shard, Window: d.BatchWindow, MaxEvents: d.MaxEvents})
	d.signals.Add(1)
	d.events.Add(int64(events))
	return err
}

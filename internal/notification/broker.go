package notification

import (
	"context"
	"errors"
	"sync"
)

// Update is what a live stream receives: a new or regrouped notification
// and the recipient's unread count after it.
type Update struct {
	UserID       string
	Notification Notification
	UnreadCount  int
}

// ErrTooManyStreams is Subscribe's answer when the user has MaxPerUser
// subscriptions open in this process already.
var ErrTooManyStreams = errors.New("too many open notification streams")

// Broker is the live-stream port: it carries updates from the delivery
// activity (in a worker) to the open streams of the recipient (in whichever
// API process holds them). Delivery is best effort — at most once, nothing
// replayed: a client lists its inbox, then streams.
type Broker interface {
	// Publish hands the updates to every subscriber of their users, in
	// every process; it does not wait for the subscribers.
	Publish(ctx context.Context, updates ...Update) error
	// Subscribe opens a subscription to userID's updates. They arrive on
	// the channel until cancel is called (which closes it). A subscriber
	// that falls more than a buffer behind loses updates.
	// ErrTooManyStreams when the user has too many open here.
	Subscribe(ctx context.Context, userID string) (updates <-chan Update, cancel func(), err error)
	// MayListen reports whether userID may have a subscriber anywhere: false
	// only when the broker knows nobody listens, so a publisher can skip
	// preparing updates (their unread count) for nobody.
	MayListen(userID string) bool
}

// Hub is the in-process Broker (embedded profile): Publish delivers to the
// subscriptions of this process. The postgres Broker uses one per process
// to hand out what it hears on its LISTEN connection.
type Hub struct {
	// MaxPerUser bounds one user's open subscriptions (default 5).
	MaxPerUser int
	// Buffer is each subscription's channel size (default 64).
	Buffer int

	mu   sync.Mutex
	subs map[string]map[*subscription]struct{}
}

type subscription struct {
	ch     chan Update
	closed bool
}

var _ Broker = (*Hub)(nil)

// Publish delivers the updates to this process's subscribers.
func (h *Hub) Publish(_ context.Context, updates ...Update) error {
	h.Deliver(updates...)
	return nil
}

// Deliver hands each update to the subscribers of its user without
// blocking: a full subscription misses it.
func (h *Hub) Deliver(updates ...Update) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range updates {
		for s := range h.subs[u.UserID] {
			select {
			case s.ch <- u:
			default:
			}
		}
	}
}

// Subscribe opens a subscription of userID.
func (h *Hub) Subscribe(_ context.Context, userID string) (<-chan Update, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	limit := h.MaxPerUser
	if limit <= 0 {
		limit = 5
	}
	if len(h.subs[userID]) >= limit {
		return nil, nil, ErrTooManyStreams
	}
	buf := h.Buffer
	if buf <= 0 {
		buf = 64
	}
	s := &subscription{ch: make(chan Update, buf)}
	if h.subs == nil {
		h.subs = map[string]map[*subscription]struct{}{}
	}
	if h.subs[userID] == nil {
		h.subs[userID] = map[*subscription]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	cancel := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if s.closed {
			return
		}
		s.closed = true
		delete(h.subs[userID], s)
		if len(h.subs[userID]) == 0 {
			delete(h.subs, userID)
		}
		close(s.ch)
	}
	return s.ch, cancel, nil
}

// MayListen reports whether userID has a subscription here: the in-process
// hub holds every stream of the embedded profile.
func (h *Hub) MayListen(userID string) bool { return h.Subscribers(userID) > 0 }

// Subscribers is the number of open subscriptions of userID ("" for all
// users), for tests and metrics.
func (h *Hub) Subscribers(userID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if userID != "" {
		return len(h.subs[userID])
	}
	n := 0
	for _, s := range h.subs {
		n += len(s)
	}
	return n
}

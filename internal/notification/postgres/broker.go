package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/notification"
)

// Channel is the NOTIFY channel the brokers share.
const Channel = "ejazz_notifications"

// maxPayload is PostgreSQL's NOTIFY payload limit (8000 bytes) with room
// to spare; a bigger update is sent without its actor list beyond the
// first few.
const maxPayload = 7900

// Broker is the live-stream broker of the scale profile, on PostgreSQL's
// LISTEN/NOTIFY: Publish is one `SELECT pg_notify(channel, json)` per
// update (from the worker that wrote the inbox); every API replica keeps
// one connection LISTENing on the channel and hands what it hears to the
// streams it holds (a notification.Hub). So any number of replicas deliver
// to their own streams, with no extra service to run — the PostgreSQL of
// the preferences is already there.
//
// Trade-offs: every replica hears every update (fine for thousands per
// second; shard channels by user hash beyond that); NOTIFY is not
// durable — an update sent while a replica reconnects is lost for its
// streams (clients catch up with ListNotifications, which the contract
// asks for anyway); the payload limit is 8000 bytes (updates are a few
// hundred).
type Broker struct {
	// Hub holds this process's subscriptions.
	notification.Hub
	db  *engine.DB
	log *slog.Logger

	mu      sync.Mutex
	started bool
	ready   chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

var _ notification.Broker = (*Broker)(nil)

// MayListen is always true: streams of userID may be open in other
// processes, which this one cannot see.
func (b *Broker) MayListen(string) bool { return true }

// NewBroker returns a broker on db's pool. Subscribe starts the listener
// on first use; Close stops it.
func NewBroker(db *engine.DB, log *slog.Logger) *Broker {
	if log == nil {
		log = slog.Default()
	}
	return &Broker{db: db, log: log, ready: make(chan struct{})}
}

// wire is an update on the channel.
type wire struct {
	U string                    `json:"u"`
	N notification.Notification `json:"n"`
	C int                       `json:"c"`
}

// Publish sends every update with pg_notify.
func (b *Broker) Publish(ctx context.Context, updates ...notification.Update) error {
	for _, u := range updates {
		n := u.Notification
		n.Batches = nil // bookkeeping; streams do not need it
		payload, err := json.Marshal(wire{U: u.UserID, N: n, C: u.UnreadCount})
		if err != nil {
			return err
		}
		if len(payload) > maxPayload {
			n.Actors = n.Actors[:min(len(n.Actors), 3)]
			if payload, err = json.Marshal(wire{U: u.UserID, N: n, C: u.UnreadCount}); err != nil {
				return err
			}
		}
		if _, err := b.db.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, string(payload)); err != nil {
			return fmt.Errorf("notification broker: notify: %w", err)
		}
	}
	return nil
}

// Subscribe opens a subscription; the first one starts the listener and
// waits (up to 5 s) until it listens, so an update published after
// Subscribe returns is heard.
func (b *Broker) Subscribe(ctx context.Context, userID string) (<-chan notification.Update, func(), error) {
	b.start()
	select {
	case <-b.ready:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-time.After(5 * time.Second):
		return nil, nil, errors.New("notification broker: not listening yet")
	}
	return b.Hub.Subscribe(ctx, userID)
}

// Start starts the listener now (API processes call it at start so the
// first stream does not wait).
func (b *Broker) Start() { b.start() }

func (b *Broker) start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return
	}
	b.started = true
	ctx, cancel := context.WithCancel(context.Background())
	b.stop, b.done = cancel, make(chan struct{})
	go b.listen(ctx)
}

// Close stops the listener.
func (b *Broker) Close() error {
	b.mu.Lock()
	stop, done := b.stop, b.done
	b.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

// listen keeps a LISTEN connection, reconnecting with backoff, and
// delivers what it hears to the hub.
func (b *Broker) listen(ctx context.Context) {
	defer close(b.done)
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := b.listenOnce(ctx, b.db.Pool, func() {
			if first {
				first = false
				close(b.ready)
			}
			backoff = 100 * time.Millisecond
		})
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("notification broker: listen connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (b *Broker) listenOnce(ctx context.Context, pool *pgxpool.Pool, listening func()) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries a LISTEN: never give it back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	listening()
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var w wire
		if err := json.Unmarshal([]byte(n.Payload), &w); err != nil {
			b.log.Warn("notification broker: bad payload", "err", err)
			continue
		}
		b.Deliver(notification.Update{UserID: w.U, Notification: w.N, UnreadCount: w.C})
	}
}

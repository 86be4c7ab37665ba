package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/postgres"
	"github.com/ejazz/ejazz/internal/storetest"
)

// TestBrokerReachesEveryReplica: two brokers (two API replicas) on one
// database each deliver an update published by a third (a worker) to their
// own subscribers of that user, and to nobody else.
func TestBrokerReachesEveryReplica(t *testing.T) {
	db := storetest.Postgres(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	replicas := []*postgres.Broker{postgres.NewBroker(db, log), postgres.NewBroker(db, log)}
	worker := postgres.NewBroker(db, log)
	user, other := storetest.UniqueName("u"), storetest.UniqueName("u")
	var subs []<-chan notification.Update
	for _, r := range replicas {
		defer r.Close()
		ch, cancelSub, err := r.Subscribe(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		defer cancelSub()
		subs = append(subs, ch)
	}
	otherCh, cancelOther, err := replicas[0].Subscribe(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer cancelOther()
	n := notification.Notification{ID: "n1", UserID: user, Kind: notification.Like, PostID: "p1", Actors: []string{"ana", "ben"},
		ActorCount: 2, At: time.Now().UTC().Truncate(time.Millisecond), Batches: []string{"b1"}}
	start := time.Now()
	if err := worker.Publish(ctx, notification.Update{UserID: user, Notification: n, UnreadCount: 3}); err != nil {
		t.Fatal(err)
	}
	for i, ch := range subs {
		select {
		case u := <-ch:
			if u.UserID != user || u.UnreadCount != 3 || u.Notification.ID != "n1" || len(u.Notification.Actors) != 2 || !u.Notification.At.Equal(n.At) {
				t.Errorf("replica %d got %+v", i, u)
			}
		case <-ctx.Done():
			t.Fatalf("replica %d heard nothing", i)
		}
	}
	t.Logf("delivered to both replicas in %v", time.Since(start))
	select {
	case u := <-otherCh:
		t.Errorf("another user's subscriber got %+v", u)
	case <-time.After(200 * time.Millisecond):
	}
}

package event

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestIDsAreStableAndDistinct(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a := New(Followed, "u1", "u2", "", at)
	if b := New(Followed, "u1", "u2", "", at.In(time.FixedZone("x", 3600))); a.ID != b.ID {
		t.Errorf("same event, different IDs: %s %s", a.ID, b.ID)
	}
	for _, other := range []Event{
		New(Unfollowed, "u1", "u2", "", at),
		New(Followed, "u2", "u1", "", at),
		New(Followed, "u1", "u2", "p", at),
		New(Followed, "u1", "u2", "", at.Add(time.Nanosecond)),
		New(Followed, "u1u", "2", "", at),
	} {
		if other.ID == a.ID {
			t.Errorf("%+v has the ID of %+v", other, a)
		}
	}
}

type failing struct{}

func (failing) Publish(context.Context, ...Event) error { return errors.New("down") }

func TestFanoutDeliversToAllAndJoinsErrors(t *testing.T) {
	var r1, r2 Recorder
	e := New(Blocked, "a", "b", "", time.Now())
	err := Fanout{&r1, failing{}, &r2}.Publish(context.Background(), e)
	if err == nil || err.Error() != "down" {
		t.Errorf("err = %v, want the failing publisher's", err)
	}
	for i, r := range []*Recorder{&r1, &r2} {
		if got := r.Events(); len(got) != 1 || got[0] != e {
			t.Errorf("recorder %d got %v", i, got)
		}
	}
}

func TestGatherStopsAtSizeOrWindow(t *testing.T) {
	q := make(chan int, 10)
	for _, n := range []int{2, 3, 4} {
		q <- n
	}
	// Size: 1+2+3 = 6 reaches 5; 4 stays queued.
	if got := Gather(1, q, time.Hour, 5, func(n int) int { return n }); len(got) != 3 || got[2] != 3 || len(q) != 1 {
		t.Fatalf("Gather by size = %v, %d left", got, len(q))
	}
	// Window: the queue runs dry, the group ends when the window passes.
	if got := Gather(0, q, 10*time.Millisecond, 100, func(n int) int { return n }); len(got) != 2 || got[1] != 4 {
		t.Fatalf("Gather by window = %v", got)
	}
}

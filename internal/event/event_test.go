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

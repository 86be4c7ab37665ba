package clickhouse

import (
	"context"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storetest"
)

// TestInsertAwaitsAnEarlierAttempt: while a query runs under a batch's
// query ID (an earlier attempt the client gave up on), Insert of that batch
// waits for it to end before looking the batch up.
func TestInsertAwaitsAnEarlierAttempt(t *testing.T) {
	db := storetest.ClickHouse(t)
	s := New(db)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	batch := []event.Event{event.New(event.Liked, "u", "a", "p", time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC))}
	qid := batchQueryID(batch)
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		done <- db.Conn.Exec(ch.Context(ctx, ch.WithQueryID(qid)), "SELECT sleep(2)")
	}()
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for { // until the server lists it
		var n uint64
		if err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE query_id = ?", qid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the earlier attempt never showed in system.processes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	if err := s.Insert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(t0); waited < time.Second {
		t.Errorf("Insert returned after %s, before the earlier attempt ended", waited)
	}
	var rows uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM raw_events").Scan(&rows); err != nil || rows != 1 {
		t.Errorf("raw_events = %d rows (%v), want 1", rows, err)
	}
	if got, want := batchQueryID(batch), batchQueryID(append([]event.Event(nil), batch...)); got != want {
		t.Errorf("batchQueryID is not stable: %s, %s", got, want)
	}
}

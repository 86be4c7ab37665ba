package clickhouse_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/clickhouse"
	engine "github.com/ejazz/ejazz/internal/engine/clickhouse"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/testenv"
)

// proxy forwards a local port to ClickHouse and can be stopped (listener
// and every open connection closed, as when the server dies) and started
// again on the same port.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, conns: map[net.Conn]bool{}}
	if err := p.start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return nil
}

func (p *proxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestIngestSurvivesOutage writes through a proxy that goes down mid-run:
// batches the sink refuses are spilled and replayed when it is back, and
// every event is in ClickHouse exactly once.
func TestIngestSurvivesOutage(t *testing.T) {
	real := storetest.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := clickhouse.New(real).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	px := startProxy(t, testenv.Require(t, "EJAZZ_CLICKHOUSE_ADDR"))
	via, err := engine.Open(ctx, engine.Options{Addr: px.addr, Database: real.Database, Username: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer via.Close()
	in, err := analytics.NewIngester(analytics.IngestOptions{
		Sink: clickhouse.New(via), SpoolDir: t.TempDir(), BatchSize: 5000, FlushEvery: 50 * time.Millisecond,
		RetryEvery: 200 * time.Millisecond, InsertTimeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())

	day := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	batch := func(from, n int) []event.Event {
		out := make([]event.Event, n)
		for i := range out {
			out[i] = event.New(event.Liked, fmt.Sprintf("user-%d", from+i), "author", fmt.Sprintf("post-%d", (from+i)%100), day.Add(time.Duration(from+i)*time.Second/10))
		}
		return out
	}
	publish := func(evs []event.Event) {
		t.Helper()
		if err := in.Publish(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		if err := in.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	publish(batch(0, 20_000))
	if st := in.Stats(); st.Inserted != 20_000 {
		t.Fatalf("before the outage: %+v, want 20000 inserted", st)
	}

	px.stop() // ClickHouse "goes down"
	publish(batch(20_000, 15_000))
	publish(batch(35_000, 15_000))
	// Replays keep failing while it is down.
	failures := in.Stats().Failures
	time.Sleep(time.Second)
	st := in.Stats()
	if st.Spilled != 30_000 || st.SpoolFiles == 0 || st.Failures <= failures {
		t.Fatalf("during the outage: %+v, want 30000 spilled and failing replays", st)
	}

	if err := px.start(px.addr); err != nil { // back on the same address
		t.Fatal(err)
	}
	publish(batch(50_000, 10_000))
	deadline := time.Now().Add(time.Minute)
	for in.Stats().SpoolFiles > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not replayed: %+v", in.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, distinct uint64
	if err := real.Conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM raw_events").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != 60_000 || distinct != 60_000 {
		t.Errorf("raw_events holds %d rows, %d distinct; want each of 60000 events exactly once (stats %+v)", rows, distinct, in.Stats())
	}
	dau, err := clickhouse.New(real).DailyActiveUsers(ctx, day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	// uniqCombined(16) is exact up to about 4,000 users, within 1% above.
	if len(dau) != 1 || dau[0].N < 59_400 || dau[0].N > 60_600 {
		t.Errorf("DAU = %+v, want 60000 users (±1%%)", dau)
	}
	eng, err := clickhouse.New(real).PostEngagement(ctx, "post-7")
	if err != nil {
		t.Fatal(err)
	}
	if l, _, _ := analytics.Engagement(eng); l != 600 {
		t.Errorf("likes of post-7 = %d, want 600", l)
	}
}

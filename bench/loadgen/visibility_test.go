package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
)

// fakeFeed shows post IDs on home timelines from given times on, per
// caller token; token "unimplemented" gets that error.
type fakeFeed struct {
	feedv1connect.UnimplementedFeedServiceHandler
	mu    sync.Mutex
	shows map[string]map[string]time.Time // token → post → visible from
	calls int
}

func (f *fakeFeed) show(token, post string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shows[token] == nil {
		f.shows[token] = map[string]time.Time{}
	}
	f.shows[token][post] = at
}

func (f *fakeFeed) GetHomeTimeline(_ context.Context, r *connect.Request[feedv1.GetHomeTimelineRequest]) (*connect.Response[feedv1.GetHomeTimelineResponse], error) {
	tok := strings.TrimPrefix(r.Header().Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if tok == "unimplemented" {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("not yet"))
	}
	out := &feedv1.GetHomeTimelineResponse{}
	for id, at := range f.shows[tok] {
		if !time.Now().Before(at) {
			out.Items = append(out.Items, &feedv1.TimelineItem{Post: &postv1.Post{PostId: id}})
		}
	}
	return connect.NewResponse(out), nil
}

func session(tok string) *Session {
	s := &Session{}
	s.access.Store(&tok)
	return s
}

func TestVisibility(t *testing.T) {
	feed := &fakeFeed{shows: map[string]map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.Handle(feedv1connect.NewFeedServiceHandler(feed))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	clients := NewClients(srv.URL, 16)
	v := NewVisibility(clients, 10*time.Millisecond, 300*time.Millisecond, 3)
	ctx := context.Background()
	now := time.Now()

	// p1 reaches a at once and b after 100 ms: visible after ~100 ms.
	feed.show("a", "p1", now)
	feed.show("b", "p1", now.Add(100*time.Millisecond))
	v.Check(ctx, "p1", now, []*Session{session("a"), session("b")})
	// p2 never reaches c.
	feed.show("a", "p2", now)
	v.Check(ctx, "p2", now, []*Session{session("a"), session("c")})
	// p3's watcher gets unimplemented: a failed check.
	v.Check(ctx, "p3", now, []*Session{session("unimplemented")})
	// Three checks under way: p4 is skipped. p5 has no watchers.
	v.Check(ctx, "p4", now, []*Session{session("a")})
	v.Check(ctx, "p5", now, nil)
	v.Wait()

	r := v.Report()
	if r.Sampled != 5 || r.Checked != 3 || r.Watchers != 5 || r.Skipped != 1 || r.NoWatchers != 1 {
		t.Errorf("counts %+v", r)
	}
	if r.Visible != 1 || r.Never != 1 || r.NeverTimelines != 1 || r.Failed != 1 {
		t.Errorf("outcomes %+v", r)
	}
	if r.Latency.Count != 1 || r.Latency.Max < 100 || r.Latency.Max > 250 {
		t.Errorf("p1 visible after %v ms, want ~100 ms", r.Latency.Max)
	}
	if r.PollErrors["unimplemented"] != 1 || r.Polls < 20 {
		t.Errorf("polls %d, errors %v", r.Polls, r.PollErrors)
	}
	if v.Pending() != 0 {
		t.Errorf("%d pending after Wait", v.Pending())
	}
}

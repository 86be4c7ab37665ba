package main

import (
	"context"
	"sync"
	"time"

	"connectrpc.com/connect"
)

// Visibility measures fan-out visibility latency: the time from CreatePost
// returning until the post is on the first page of the home timeline of
// every watched follower of its author. Each watcher's timeline is polled
// every Poll until the post is there or Timeout has passed. Polls add load
// in proportion to the visibility latency, so at most MaxPending checks run
// at once; posts sampled beyond that are skipped (and counted).
type Visibility struct {
	Clients    *Clients
	Poll       time.Duration
	Timeout    time.Duration
	MaxPending int

	latency *Latencies
	wg      sync.WaitGroup
	mu      sync.Mutex
	r       VisibilityReport
}

// VisibilityReport is the fan-out visibility part of the results.
type VisibilityReport struct {
	// Sampled posts were picked for a check; NoWatchers of them had no
	// signed-in follower to watch.
	Sampled    int `json:"sampled_posts"`
	NoWatchers int `json:"no_signed_in_followers"`
	// Skipped sampled posts found MaxPending checks under way.
	Skipped int `json:"skipped_busy"`
	// Checked posts were watched on Watchers follower timelines in all.
	Checked  int `json:"checked_posts"`
	Watchers int `json:"watched_timelines"`
	// Visible posts reached every watched timeline in time; Never posts
	// missed at least one (NeverTimelines counts those timelines); Failed
	// checks stopped on an error that polling cannot outwait (e.g. the
	// feed answers unimplemented).
	Visible        int `json:"visible_posts"`
	Never          int `json:"never_visible_posts"`
	NeverTimelines int `json:"never_visible_timelines"`
	Failed         int `json:"failed_checks"`
	// Latency is over Visible posts: until the last watched timeline showed it.
	Latency Summary `json:"latency"`
	// Polls counts GetHomeTimeline calls made for the checks (not part of
	// the mix); PollErrors counts their failures by Connect code.
	Polls      int64            `json:"polls"`
	PollErrors map[string]int64 `json:"poll_errors"`
	TimeoutS   float64          `json:"timeout_s"`
}

// NewVisibility returns a checker polling every poll for up to timeout,
// with at most maxPending checks at once.
func NewVisibility(c *Clients, poll, timeout time.Duration, maxPending int) *Visibility {
	return &Visibility{Clients: c, Poll: poll, Timeout: timeout, MaxPending: maxPending, latency: NewLatencies(),
		r: VisibilityReport{PollErrors: map[string]int64{}, TimeoutS: timeout.Seconds()}}
}

// Check starts watching postID, created (CreatePost returned) at created, on
// the watchers' home timelines; with no watchers it only counts the post.
func (v *Visibility) Check(ctx context.Context, postID string, created time.Time, watchers []*Session) {
	v.mu.Lock()
	v.r.Sampled++
	if len(watchers) == 0 {
		v.r.NoWatchers++
		v.mu.Unlock()
		return
	}
	if v.pending() >= v.MaxPending {
		v.r.Skipped++
		v.mu.Unlock()
		return
	}
	v.r.Checked++
	v.r.Watchers += len(watchers)
	v.mu.Unlock()
	v.wg.Go(func() {
		type seen struct {
			after  time.Duration
			ok     bool
			failed bool
		}
		results := make([]seen, len(watchers))
		var wg sync.WaitGroup
		for i, w := range watchers {
			wg.Go(func() {
				after, ok, failed := v.watch(ctx, postID, created, w)
				results[i] = seen{after, ok, failed}
			})
		}
		wg.Wait()
		var last time.Duration
		var missing int
		failed := false
		for _, s := range results {
			last = max(last, s.after)
			if s.failed {
				failed = true
			} else if !s.ok {
				missing++
			}
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		switch {
		case failed:
			v.r.Failed++
		case missing > 0:
			v.r.Never++
			v.r.NeverTimelines += missing
		default:
			v.r.Visible++
			v.latency.Record(last)
		}
	})
}

// watch polls w's home timeline until postID is on its first page. failed
// reports an error polling cannot outwait.
func (v *Visibility) watch(ctx context.Context, postID string, created time.Time, w *Session) (after time.Duration, ok, failed bool) {
	deadline := created.Add(v.Timeout)
	for k := 1; ; k++ {
		cctx, cancel := context.WithDeadline(ctx, deadline)
		page, err := homeTimeline(cctx, v.Clients, w)
		cancel()
		now := time.Now()
		v.mu.Lock()
		v.r.Polls++
		if err != nil && !(now.After(deadline) && codeOf(err) == connect.CodeDeadlineExceeded.String()) {
			v.r.PollErrors[codeOf(err)]++
		}
		v.mu.Unlock()
		if err == nil {
			for _, it := range page.GetItems() {
				if it.GetPost().GetPostId() == postID {
					return now.Sub(created), true, false
				}
			}
		} else {
			switch connect.CodeOf(err) {
			case connect.CodeUnimplemented, connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeInvalidArgument:
				return now.Sub(created), false, true
			}
		}
		next := created.Add(time.Duration(k) * v.Poll)
		if !next.Before(deadline) || ctx.Err() != nil {
			return now.Sub(created), false, false
		}
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			return now.Sub(created), false, false
		}
	}
}

// Wait waits for the checks under way (each ends by its timeout).
func (v *Visibility) Wait() { v.wg.Wait() }

// Report returns the results so far.
func (v *Visibility) Report() VisibilityReport {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.r
	r.PollErrors = make(map[string]int64, len(v.r.PollErrors))
	for k, n := range v.r.PollErrors {
		r.PollErrors[k] = n
	}
	r.Latency = v.latency.Summary()
	return r
}

// Pending returns how many checks are under way.
func (v *Visibility) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pending()
}

func (v *Visibility) pending() int { return v.r.Checked - v.r.Visible - v.r.Never - v.r.Failed }

package main

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Schedule is an open-loop arrival schedule: request i is due at
// start + i/Rate, whatever happened to the requests before it, for every i
// due before start + Duration. Callers measure latency from the due time
// (the intended start), so a slow server cannot hide its queueing delay by
// slowing the generator down (no coordinated omission).
type Schedule struct {
	// Rate is arrivals per second (> 0).
	Rate float64
	// Duration is how long requests keep arriving.
	Duration time.Duration
	// MaxInFlight caps the requests in flight (> 0). A request due while the
	// cap is reached waits for a slot; its latency still counts from its due
	// time, so the wait shows in the percentiles.
	MaxInFlight int
	// Drain is how long after Duration requests still waiting for a slot may
	// start; the ones left are counted as Unsent. Requests in flight are
	// always waited for (each has its own timeout).
	Drain time.Duration
}

// Job is one scheduled request; it runs on its own goroutine and gets its
// due time.
type Job func(due time.Time)

// ScheduleStats describe how well the generator kept to the schedule.
type ScheduleStats struct {
	Scheduled int `json:"scheduled"`
	Sent      int `json:"sent"`
	// Unsent are requests still waiting for a slot when the drain ended (or
	// the context was cancelled).
	Unsent int `json:"unsent"`
	// MaxLag is the longest delay between a request's due time and its
	// start; Late counts requests started more than 10 ms late (the cap was
	// reached, or the generator's machine was too busy).
	MaxLag time.Duration `json:"max_lag_ns"`
	Late   int           `json:"late_over_10ms"`
	// Elapsed is from the first due time until the last request finished.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Due returns the due time of request i.
func (s Schedule) Due(start time.Time, i int) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / s.Rate))
}

// Count returns how many requests the schedule has: those due before
// Duration, ceil(Duration × Rate).
func (s Schedule) Count() int {
	return int(math.Ceil(s.Duration.Seconds()*s.Rate - 1e-9))
}

// Run follows the schedule from now: for each request it calls prepare(i)
// on the calling goroutine (so that a seeded random source gives the same
// sequence every run), waits for the due time and a free slot, and runs the
// returned job on a new goroutine. It returns when every started job has
// finished. inFlight, when not nil, tracks the jobs running.
func (s Schedule) Run(ctx context.Context, prepare func(i int) Job, inFlight *atomic.Int64) ScheduleStats {
	n := s.Count()
	st := ScheduleStats{Scheduled: n}
	slots := make(chan struct{}, s.MaxInFlight)
	start := time.Now()
	stop := time.NewTimer(s.Duration + s.Drain)
	defer stop.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var wg sync.WaitGroup
loop:
	for i := range n {
		job := prepare(i)
		due := s.Due(start, i)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				st.Unsent = n - i
				break loop
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			st.Unsent = n - i
			break loop
		case <-stop.C:
			st.Unsent = n - i
			break loop
		}
		lag := time.Since(due)
		st.MaxLag = max(st.MaxLag, lag)
		if lag > 10*time.Millisecond {
			st.Late++
		}
		st.Sent++
		if inFlight != nil {
			inFlight.Add(1)
		}
		wg.Go(func() {
			defer func() {
				if inFlight != nil {
					inFlight.Add(-1)
				}
				<-slots
			}()
			job(due)
		})
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	return st
}

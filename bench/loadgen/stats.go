package main

import (
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histograms record microseconds from 1 µs to one hour with three
// significant digits (a relative error below 0.1%).
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3
)

// Latencies is a concurrency-safe HDR histogram of durations.
type Latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewLatencies returns an empty histogram.
func NewLatencies() *Latencies {
	return &Latencies{h: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)}
}

// Record adds one duration; values beyond the range are clamped to it.
func (l *Latencies) Record(d time.Duration) {
	us := min(max(d.Microseconds(), histMinMicros), histMaxMicros)
	l.mu.Lock()
	_ = l.h.RecordValue(us) // in range by construction
	l.mu.Unlock()
}

// Merge adds o's values to l.
func (l *Latencies) Merge(o *Latencies) {
	o.mu.Lock()
	c := o.h.Export()
	o.mu.Unlock()
	from := hdrhistogram.Import(c)
	l.mu.Lock()
	l.h.Merge(from)
	l.mu.Unlock()
}

// Take returns the recorded values as a new histogram and empties l (for a
// per-second window).
func (l *Latencies) Take() *Latencies {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := &Latencies{h: l.h}
	l.h = hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
	return out
}

// Summary is a histogram's count and percentiles, in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary computes l's summary.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if l.h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: l.h.TotalCount(),
		Mean:  l.h.Mean() / 1000,
		P50:   ms(l.h.ValueAtQuantile(50)),
		P90:   ms(l.h.ValueAtQuantile(90)),
		P99:   ms(l.h.ValueAtQuantile(99)),
		P999:  ms(l.h.ValueAtQuantile(99.9)),
		Max:   ms(l.h.Max()),
	}
}

// CallStats are the outcomes of one kind of call: latencies of the
// successful ones and errors by Connect code.
type CallStats struct {
	Latency *Latencies
	mu      sync.Mutex
	ok      int64
	errors  map[string]int64
}

// NewCallStats returns empty stats.
func NewCallStats() *CallStats {
	return &CallStats{Latency: NewLatencies(), errors: map[string]int64{}}
}

// Observe records one call that took d (from its intended start); code is
// "" for a success, otherwise the Connect code's name.
func (s *CallStats) Observe(d time.Duration, code string) {
	if code == "" {
		s.Latency.Record(d)
	}
	s.mu.Lock()
	if code == "" {
		s.ok++
	} else {
		s.errors[code]++
	}
	s.mu.Unlock()
}

// Counts returns the successes and a copy of the errors by code.
func (s *CallStats) Counts() (ok int64, errors map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	errors = make(map[string]int64, len(s.errors))
	for k, v := range s.errors {
		errors[k] = v
	}
	return s.ok, errors
}

// CallReport is one call's line of the results.
type CallReport struct {
	Count int64 `json:"count"`
	OK    int64 `json:"ok"`
	// Errors counts failed calls by Connect code (deadline_exceeded for
	// calls past --timeout, unavailable for refused connections).
	Errors map[string]int64 `json:"errors"`
	// Throughput is successful calls per second of the run.
	Throughput float64 `json:"throughput_per_s"`
	// Latency is over successful calls, from each call's intended start.
	Latency Summary `json:"latency"`
}

// Report summarises s over a run of elapsed.
func (s *CallStats) Report(elapsed time.Duration) CallReport {
	ok, errs := s.Counts()
	var n int64
	for _, v := range errs {
		n += v
	}
	r := CallReport{Count: ok + n, OK: ok, Errors: errs, Latency: s.Latency.Summary()}
	if elapsed > 0 {
		r.Throughput = float64(ok) / elapsed.Seconds()
	}
	return r
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package main

import (
	"context"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestScheduleCount(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		d    time.Duration
		want int
	}{
		{10, time.Second, 10},
		{10, 1050 * time.Millisecond, 11}, // due at 0, 0.1, …, 1.0 s
		{3, time.Second, 3},
		{0.5, 10 * time.Second, 5},
		{1000, 250 * time.Millisecond, 250},
		{7, 3 * time.Second, 21},
	} {
		if got := (Schedule{Rate: tc.rate, Duration: tc.d}).Count(); got != tc.want {
			t.Errorf("rate %v for %v: %d requests, want %d", tc.rate, tc.d, got, tc.want)
		}
	}
}

// TestScheduleOpenLoop checks that arrivals keep to the schedule whatever
// the responses do: every request starts on time although each takes many
// arrival intervals, and the due times are exactly start + i/rate.
func TestScheduleOpenLoop(t *testing.T) {
	s := Schedule{Rate: 200, Duration: 300 * time.Millisecond, MaxInFlight: 1000, Drain: time.Second}
	var mu sync.Mutex
	dues := map[int]time.Time{}
	starts := map[int]time.Time{}
	var prepared []int
	st := s.Run(context.Background(), func(i int) Job {
		prepared = append(prepared, i)
		return func(due time.Time) {
			mu.Lock()
			dues[i], starts[i] = due, time.Now()
			mu.Unlock()
			time.Sleep(50 * time.Millisecond) // 10 intervals: a closed loop would fall behind
		}
	}, nil)
	if st.Scheduled != 60 || st.Sent != 60 || st.Unsent != 0 {
		t.Fatalf("stats %+v, want 60 scheduled and sent", st)
	}
	for i := range 60 {
		if prepared[i] != i {
			t.Fatalf("prepared out of order: %v", prepared)
		}
	}
	first := dues[0]
	for i := range 60 {
		want := first.Add(time.Duration(i) * 5 * time.Millisecond)
		if !dues[i].Equal(want) {
			t.Errorf("request %d due at +%v, want +%v", i, dues[i].Sub(first), want.Sub(first))
		}
		// A closed loop of one would start the last request ~2.7 s late;
		// the bound leaves room for a busy test machine.
		if lag := starts[i].Sub(dues[i]); lag < 0 || lag > 250*time.Millisecond {
			t.Errorf("request %d started %v after its due time", i, lag)
		}
	}
	if st.Elapsed < 345*time.Millisecond {
		t.Errorf("elapsed %v: the last request (due at 295 ms, 50 ms long) cannot be done yet", st.Elapsed)
	}
}

// TestScheduleCapCountsQueueing: with one slot and slow responses, requests
// wait for the slot, and latency measured from the due time includes the
// wait — the coordinated omission a closed loop would hide.
func TestScheduleCapCountsQueueing(t *testing.T) {
	s := Schedule{Rate: 100, Duration: 100 * time.Millisecond, MaxInFlight: 1, Drain: 5 * time.Second}
	lat := NewLatencies()
	var peak, cur, tracked atomic.Int64
	st := s.Run(context.Background(), func(int) Job {
		return func(due time.Time) {
			if n := cur.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
			cur.Add(-1)
			lat.Record(time.Since(due))
		}
	}, &tracked)
	if st.Sent != 10 || peak.Load() != 1 || tracked.Load() != 0 {
		t.Fatalf("sent %d, peak in flight %d", st.Sent, peak.Load())
	}
	sum := lat.Summary()
	// Request i starts at about 20i ms but was due at 10i ms: the last one
	// waited ~90 ms and took ~110 ms from its due time.
	if sum.Max < 100 || sum.P50 < 50 {
		t.Errorf("latency %+v ignores the time spent waiting for a slot", sum)
	}
	if st.Late < 5 || st.MaxLag < 80*time.Millisecond {
		t.Errorf("stats %+v: lag not reported", st)
	}
}

func TestScheduleDrainAndCancel(t *testing.T) {
	// One slot held for 200 ms: of 5 requests due in the first 50 ms only the
	// first starts; the drain ends at 70 ms with the other 4 unsent.
	s := Schedule{Rate: 100, Duration: 50 * time.Millisecond, MaxInFlight: 1, Drain: 20 * time.Millisecond}
	release := make(chan struct{})
	go func() { time.Sleep(200 * time.Millisecond); close(release) }()
	st := s.Run(context.Background(), func(int) Job { return func(time.Time) { <-release } }, nil)
	if st.Sent != 1 || st.Unsent != 4 {
		t.Errorf("stats %+v: want 1 sent and 4 left waiting for the slot after the drain", st)
	}
	if st.Elapsed < 190*time.Millisecond {
		t.Errorf("Run returned after %v, before its request finished", st.Elapsed)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st = (Schedule{Rate: 10, Duration: time.Hour, MaxInFlight: 1}).Run(ctx, func(int) Job { return func(time.Time) {} }, nil)
	if st.Sent > 1 || st.Unsent < 35999 {
		t.Errorf("cancelled run: %+v", st)
	}
}

func TestLatencies(t *testing.T) {
	l := NewLatencies()
	for i := 1; i <= 1000; i++ {
		l.Record(time.Duration(i) * time.Millisecond)
	}
	s := l.Summary()
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.002 {
			t.Errorf("%s = %v ms, want %v ms (±0.2%%)", name, got, want)
		}
	}
	if s.Count != 1000 {
		t.Fatalf("count %d", s.Count)
	}
	check("p50", s.P50, 500)
	check("p90", s.P90, 900)
	check("p99", s.P99, 990)
	check("p99.9", s.P999, 999)
	check("max", s.Max, 1000)
	check("mean", s.Mean, 500.5)

	// Out of range values are clamped, not lost.
	l.Record(0)
	l.Record(2 * time.Hour)
	if s := l.Summary(); s.Count != 1002 || s.Max < 3_500_000 {
		t.Errorf("clamped values: %+v", s)
	}

	w := l.Take()
	if l.Summary().Count != 0 || w.Summary().Count != 1002 {
		t.Errorf("Take: left %d, took %d", l.Summary().Count, w.Summary().Count)
	}
	m := NewLatencies()
	m.Record(time.Millisecond)
	m.Merge(w)
	if m.Summary().Count != 1003 {
		t.Errorf("Merge: %d", m.Summary().Count)
	}
}

func TestCallStats(t *testing.T) {
	s := NewCallStats()
	s.Observe(2*time.Millisecond, "")
	s.Observe(4*time.Millisecond, "")
	s.Observe(time.Second, "unimplemented")
	s.Observe(time.Second, "deadline_exceeded")
	s.Observe(time.Second, "unimplemented")
	r := s.Report(2 * time.Second)
	if r.Count != 5 || r.OK != 2 || r.Errors["unimplemented"] != 2 || r.Errors["deadline_exceeded"] != 1 {
		t.Errorf("report %+v", r)
	}
	if r.Throughput != 1 || r.Latency.Count != 2 || r.Latency.Max > 4.01 {
		t.Errorf("report %+v: failed calls must not enter the latency", r)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	if m.Share(OpHome) != 0.6 || m.Share(OpUser) != 0.3 || m.Share(OpPost) != 0.1 {
		t.Errorf("default mix %v", m)
	}
	m, err = ParseMix(" post = 1 ")
	if err != nil || m.Share(OpPost) != 1 || m.Share(OpHome) != 0 {
		t.Errorf("post only: %v %v", m, err)
	}
	for _, bad := range []string{"", "home=0", "home=-1", "home=x", "tweet=5", "home=1,home=2", "home"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestMixPick(t *testing.T) {
	m, _ := ParseMix(DefaultMix)
	rng := rand.New(rand.NewPCG(1, 2))
	var n [numOps]int
	const draws = 100_000
	for range draws {
		n[m.Pick(rng)]++
	}
	for op := range numOps {
		got := float64(n[op]) / draws
		if math.Abs(got-m.Share(op)) > 0.01 {
			t.Errorf("%s drawn %.3f of the time, want %.2f", op, got, m.Share(op))
		}
	}
	// The same seed gives the same sequence.
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for range 100 {
		if m.Pick(a) != m.Pick(b) {
			t.Fatal("picks differ for the same seed")
		}
	}
}

// graphUsers makes users where user i is followed by followers[i].
func graphUsers(followers [][]int32) []User {
	us := make([]User, len(followers))
	for i, f := range followers {
		us[i] = User{Index: i, ID: "id" + string(rune('a'+i%26)), Handle: "u_" + strings.Repeat("x", i%3+1), Password: "p", Followers: f}
	}
	return us
}

func TestSampleUsers(t *testing.T) {
	// User 7 is the hub; the rest form pairs that follow each other.
	n := 200
	followers := make([][]int32, n)
	for i := range n {
		if i != 7 {
			followers[7] = append(followers[7], int32(i))
		}
		if i%2 == 0 {
			followers[i] = append(followers[i], int32(i+1))
			followers[i+1] = append(followers[i+1], int32(i))
		}
	}
	users := graphUsers(followers)
	s := SampleUsers(users, 20, 1, rand.New(rand.NewPCG(1, 1)))
	if len(s) != 20 || s[0] != 7 {
		t.Fatalf("sample %v: want 20 users starting with the hub 7", s)
	}
	seen := map[int]bool{}
	withFollower := 0
	for _, i := range s {
		if seen[i] {
			t.Fatalf("user %d sampled twice", i)
		}
		seen[i] = true
	}
	for _, i := range s {
		for _, f := range users[i].Followers {
			if seen[int(f)] {
				withFollower++
				break
			}
		}
	}
	if withFollower < 18 {
		t.Errorf("only %d of 20 sampled users have a sampled follower", withFollower)
	}
	again := SampleUsers(users, 20, 1, rand.New(rand.NewPCG(1, 1)))
	for i := range s {
		if s[i] != again[i] {
			t.Fatal("sample not deterministic")
		}
	}
	if all := SampleUsers(users, 500, 1, rand.New(rand.NewPCG(1, 1))); len(all) != n {
		t.Errorf("asking for more than all: %d", len(all))
	}
}

var mention = regexp.MustCompile(`@([A-Za-z0-9_]{3,30})`)

func TestPostText(t *testing.T) {
	handles := make([]string, 962)
	for i := range handles {
		handles[i] = "r98_" + strings.Repeat("1", 1+i%3)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		text, mentioned := PostText(rng, handles, 256)
		if n := len([]rune(text)); n > 256 || n < 200 {
			t.Fatalf("text of %d characters: %q", n, text)
		}
		if len(mentioned) < 1 || len(mentioned) > 5 {
			t.Fatalf("%d mentions", len(mentioned))
		}
		found := mention.FindAllStringSubmatch(text, -1)
		if len(found) != len(mentioned) {
			t.Fatalf("text %q has %d mentions, want %v", text, len(found), mentioned)
		}
	}
	// Fewer handles than mentions.
	if _, m := PostText(rng, []string{"only_one"}, 100); len(m) != 1 {
		t.Errorf("mentions %v", m)
	}
}

func TestPickWatchers(t *testing.T) {
	signedIn := map[int]*Session{1: {User: 1}, 3: {User: 3}, 5: {User: 5}, 9: {User: 9}}
	rng := rand.New(rand.NewPCG(1, 1))
	w := pickWatchers(rng, []int32{1, 2, 3, 4, 5, 9}, signedIn, 3)
	if len(w) != 3 {
		t.Fatalf("%d watchers", len(w))
	}
	for _, s := range w {
		if s.User == 2 || s.User == 4 {
			t.Errorf("watcher %d is not signed in", s.User)
		}
	}
	if w := pickWatchers(rng, []int32{2, 4}, signedIn, 5); len(w) != 0 {
		t.Errorf("watchers %v without signed-in followers", w)
	}
}

func TestParseFlags(t *testing.T) {
	var sink strings.Builder
	c, err := parseFlags([]string{"--rate", "20", "--duration", "5s", "--mix", "home=1,post=1", "--target", "http://localhost:18080"}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rate != 20 || c.Duration != 5*time.Second || c.Mix.Share(OpPost) != 0.5 {
		t.Errorf("config %+v", c)
	}
	for _, args := range [][]string{
		{"--rate", "0"},
		{"--duration", "-1s"},
		{"--mix", "nope=1"},
		{"--target", "http://10.1.2.3:8080"},
		{"--target", "ftp://127.0.0.1"},
		{"--concurrency", "0"},
		{"extra"},
	} {
		if _, err := parseFlags(args, &sink); err == nil {
			t.Errorf("parseFlags(%v) accepted", args)
		}
	}
	if _, err := parseFlags([]string{"--target", "http://[::1]:8080"}, &sink); err != nil {
		t.Errorf("IPv6 loopback refused: %v", err)
	}
}

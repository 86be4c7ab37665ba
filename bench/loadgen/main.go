// Command loadgen drives an open-loop workload through Ejazz's public
// Connect API and reports throughput, latency percentiles and fan-out
// visibility latency.
//
// Requests arrive at a fixed rate (--rate) whatever the server does: request
// i is due at start + i/rate and its latency is measured from that due time,
// so a slow server shows its queueing in the percentiles instead of slowing
// the generator down (no coordinated omission). --concurrency caps the
// requests in flight; a request due while the cap is reached waits for a
// slot, and the wait counts in its latency.
//
// The users come from the file `ejazz admin seed` writes: a sample of them
// (--signin) signs in with AuthService.SignIn, and the workload is the
// DeathStarBench social-network mix by default — 60% GetHomeTimeline of a
// signed-in user, 30% GetUserTimeline of a random seeded user, 10%
// CreatePost of ~256 characters mentioning 1–5 random seeded users. One
// created post in --visibility-every is watched: up to 5 signed-in followers
// of its author poll their home timelines until the post shows up, which
// gives the fan-out visibility latency.
//
// A progress line goes to stderr every second; the results are printed as a
// table and, with --json, written as JSON. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
)

// Config is the command line.
type Config struct {
	Target         string
	UsersFile      string
	Rate           float64
	Duration       time.Duration
	Mix            Mix
	Concurrency    int
	JSONOut        string
	SignIn         int
	SignInWorkers  int
	Hubs           int
	Timeout        time.Duration
	Drain          time.Duration
	PostSize       int
	VisEvery       int
	VisFollowers   int
	VisPoll        time.Duration
	VisTimeout     time.Duration
	VisMaxPending  int
	Seed           uint64
	AllowNonLocal  bool
	ProgressPeriod time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &Config{}
	var mix string
	fs.StringVar(&c.Target, "target", "http://127.0.0.1:8080", "Ejazz public API base URL")
	fs.StringVar(&c.UsersFile, "users", "users.json", "users file written by `ejazz admin seed`")
	fs.Float64Var(&c.Rate, "rate", 50, "arrivals per second (open loop)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long requests arrive")
	fs.StringVar(&mix, "mix", DefaultMix, "weights of home (GetHomeTimeline), user (GetUserTimeline) and post (CreatePost)")
	fs.IntVar(&c.Concurrency, "concurrency", 256, "maximum requests in flight")
	fs.StringVar(&c.JSONOut, "json", "", "write the results as JSON to this file")
	fs.IntVar(&c.SignIn, "signin", 100, "seeded users to sign in and send requests as")
	fs.IntVar(&c.SignInWorkers, "signin-concurrency", 4, "sign-ins in flight (each is an argon2id check on the server)")
	fs.IntVar(&c.Hubs, "hubs", 1, "always sign in this many of the most-followed users")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout (counted as deadline_exceeded)")
	fs.DurationVar(&c.Drain, "drain", 10*time.Second, "after --duration, how long requests still waiting for a slot may start")
	fs.IntVar(&c.PostSize, "post-size", 256, "characters per created post")
	fs.IntVar(&c.VisEvery, "visibility-every", 20, "watch 1 in N created posts for fan-out visibility (0: none)")
	fs.IntVar(&c.VisFollowers, "visibility-followers", 5, "signed-in followers of the author to watch per post")
	fs.DurationVar(&c.VisPoll, "visibility-poll", 50*time.Millisecond, "home timeline poll interval of a watch")
	fs.DurationVar(&c.VisTimeout, "visibility-timeout", 10*time.Second, "a watched post not visible by then counts as never visible")
	fs.IntVar(&c.VisMaxPending, "visibility-max-pending", 10, "visibility checks at once; posts sampled beyond are skipped (polls add load)")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed of user, op and text choices")
	fs.BoolVar(&c.AllowNonLocal, "allow-non-loopback", false, "allow a --target that is not a loopback address")
	fs.DurationVar(&c.ProgressPeriod, "progress", time.Second, "progress line interval (0: none)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	m, err := ParseMix(mix)
	if err != nil {
		return nil, err
	}
	c.Mix = m
	switch {
	case c.Rate <= 0 || c.Rate > 100_000:
		return nil, errors.New("--rate must be in (0, 100000]")
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return nil, errors.New("--duration must be in (0, 24h]")
	case c.Concurrency <= 0:
		return nil, errors.New("--concurrency must be positive")
	case c.SignIn <= 0 || c.SignInWorkers <= 0:
		return nil, errors.New("--signin and --signin-concurrency must be positive")
	case c.Timeout <= 0 || c.Drain < 0:
		return nil, errors.New("--timeout must be positive and --drain not negative")
	case c.PostSize < 64 || c.PostSize > 500:
		return nil, errors.New("--post-size must be in [64, 500]")
	case c.VisEvery < 0 || c.VisFollowers < 0 || c.VisPoll <= 0 || c.VisTimeout <= 0 || c.VisMaxPending <= 0:
		return nil, errors.New("bad --visibility-* flag")
	}
	if err := checkTarget(c.Target, c.AllowNonLocal); err != nil {
		return nil, err
	}
	return c, nil
}

// checkTarget accepts http(s) URLs on a loopback host unless allowRemote.
func checkTarget(target string, allowRemote bool) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--target %q: want http://host:port", target)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--target %q is not a loopback address (pass --allow-non-loopback to load another host)", target)
}

// Results is the JSON report.
type Results struct {
	Target      string                `json:"target"`
	UsersFile   string                `json:"users_file"`
	Graph       string                `json:"graph"`
	StartedAt   time.Time             `json:"started_at"`
	Rate        float64               `json:"rate_per_s"`
	DurationS   float64               `json:"duration_s"`
	Mix         map[string]int        `json:"mix"`
	Concurrency int                   `json:"concurrency"`
	Seed        uint64                `json:"seed"`
	SignIn      SignInResult          `json:"signin"`
	Schedule    ScheduleStats         `json:"schedule"`
	Calls       map[string]CallReport `json:"calls"`
	Total       CallReport            `json:"total"`
	Visibility  VisibilityReport      `json:"fanout_visibility"`
	// WallS is the whole run in seconds, the wait for visibility checks
	// included.
	WallS float64 `json:"wall_s"`
}

// job describes one prepared request.
type job struct {
	op       Op
	as       *Session
	userID   string     // OpUser: whose timeline
	text     string     // OpPost
	key      string     // OpPost: idempotency key
	watchers []*Session // OpPost: followers to watch, when sampled
	sampled  bool
}

func run(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	uf, err := LoadUsers(cfg.UsersFile)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10ad))
	clients := NewClients(cfg.Target, cfg.Concurrency)
	sample := SampleUsers(uf.Users, cfg.SignIn, cfg.Hubs, rng)
	fmt.Fprintf(stderr, "loadgen: %d users from %s (%s); signing in %d of them, %d at a time\n",
		len(uf.Users), cfg.UsersFile, uf.Graph, len(sample), cfg.SignInWorkers)
	sessions, signin := SignIn(ctx, clients, uf.Users, sample, cfg.SignInWorkers, cfg.Timeout)
	fmt.Fprintf(stderr, "loadgen: %d signed in in %s, errors %v\n", signin.OK, signin.Elapsed.Round(time.Millisecond), signin.Errors)
	if len(sessions) == 0 {
		return fmt.Errorf("no user could sign in (first error: %s)", signin.FirstError)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	byUser := make(map[int]*Session, len(sessions))
	for _, s := range sessions {
		byUser[s.User] = s
	}
	// Authors of watched posts come from the users with a signed-in
	// follower, so that every watched post has timelines to watch.
	var watchable []*Session
	for _, s := range sessions {
		for _, f := range uf.Users[s.User].Followers {
			if byUser[int(f)] != nil {
				watchable = append(watchable, s)
				break
			}
		}
	}
	handles := make([]string, len(uf.Users))
	for i, u := range uf.Users {
		handles[i] = u.Handle
	}

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go KeepFresh(runCtx, clients, sessions, cfg.Timeout)

	var stats [numOps]*CallStats
	for i := range stats {
		stats[i] = NewCallStats()
	}
	window := NewLatencies()
	var completed, failed, inFlight atomic.Int64
	vis := NewVisibility(clients, cfg.VisPoll, cfg.VisTimeout, cfg.VisMaxPending)
	sched := Schedule{Rate: cfg.Rate, Duration: cfg.Duration, MaxInFlight: cfg.Concurrency, Drain: cfg.Drain}
	posts := 0

	prepare := func(int) Job {
		j := job{op: cfg.Mix.Pick(rng), as: sessions[rng.IntN(len(sessions))]}
		switch j.op {
		case OpUser:
			j.userID = uf.Users[rng.IntN(len(uf.Users))].ID
		case OpPost:
			j.text, _ = PostText(rng, handles, cfg.PostSize)
			j.key = uuid.NewString()
			if cfg.VisEvery > 0 && posts%cfg.VisEvery == 0 {
				j.sampled = true
				if len(watchable) > 0 {
					j.as = watchable[rng.IntN(len(watchable))]
				}
				j.watchers = pickWatchers(rng, uf.Users[j.as.User].Followers, byUser, cfg.VisFollowers)
			}
			posts++
		}
		return func(due time.Time) {
			cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			var err error
			var postID string
			switch j.op {
			case OpHome:
				_, err = homeTimeline(cctx, clients, j.as)
			case OpUser:
				err = userTimeline(cctx, clients, j.as, j.userID)
			case OpPost:
				postID, err = createPost(cctx, clients, j.as, j.text, j.key)
			}
			done := time.Now()
			took := done.Sub(due)
			stats[j.op].Observe(took, codeOf(err))
			completed.Add(1)
			if err != nil {
				failed.Add(1)
			} else {
				window.Record(took)
				if j.sampled {
					vis.Check(ctx, postID, done, j.watchers)
				}
			}
		}
	}

	started := time.Now()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if cfg.ProgressPeriod <= 0 {
			<-runCtx.Done()
			return
		}
		t := time.NewTicker(cfg.ProgressPeriod)
		defer t.Stop()
		total := sched.Count()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			w := window.Take().Summary()
			n := completed.Load()
			vr := vis.Report()
			fmt.Fprintf(stderr, "[%5.1fs] done %d/%d  in flight %d  errors %d  ok %.0f/s  p50 %.1fms p99 %.1fms  visibility: %d visible %d never %d pending\n",
				time.Since(started).Seconds(), n, total, inFlight.Load(), failed.Load(),
				float64(w.Count)/cfg.ProgressPeriod.Seconds(), w.P50, w.P99, vr.Visible, vr.Never, vis.Pending())
		}
	}()
	fmt.Fprintf(stderr, "loadgen: %d signed-in users have a signed-in follower (authors of watched posts)\n", len(watchable))
	fmt.Fprintf(stderr, "loadgen: %s at %.1f/s for %s (mix %s, at most %d in flight)\n", cfg.Target, cfg.Rate, cfg.Duration, cfg.Mix, cfg.Concurrency)
	st := sched.Run(ctx, prepare, &inFlight)
	if vis.Pending() > 0 {
		fmt.Fprintf(stderr, "loadgen: waiting up to %s for %d visibility checks\n", cfg.VisTimeout, vis.Pending())
	}
	vis.Wait()
	cancelRun()
	<-progressDone

	res := &Results{
		Target: cfg.Target, UsersFile: cfg.UsersFile, Graph: uf.Graph, StartedAt: started.UTC(), Rate: cfg.Rate,
		DurationS: cfg.Duration.Seconds(), Mix: cfg.Mix.Weights(), Concurrency: cfg.Concurrency, Seed: cfg.Seed,
		SignIn: signin, Schedule: st, Calls: map[string]CallReport{}, Visibility: vis.Report(),
		WallS: time.Since(started).Seconds(),
	}
	total := NewCallStats()
	for op, s := range stats {
		r := s.Report(st.Elapsed)
		if r.Count == 0 && cfg.Mix.Share(Op(op)) == 0 {
			continue
		}
		res.Calls[opCalls[op]] = r
		total.Latency.Merge(s.Latency)
		ok, errs := s.Counts()
		total.ok += ok
		for k, v := range errs {
			total.errors[k] += v
		}
	}
	res.Total = total.Report(st.Elapsed)
	PrintTable(stdout, res)
	if cfg.JSONOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.JSONOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "loadgen: results written to %s\n", cfg.JSONOut)
	}
	return ctx.Err()
}

// pickWatchers draws up to k distinct signed-in followers.
func pickWatchers(rng *rand.Rand, followers []int32, signedIn map[int]*Session, k int) []*Session {
	var cands []*Session
	for _, f := range followers {
		if s, ok := signedIn[int(f)]; ok {
			cands = append(cands, s)
		}
	}
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	return cands[:min(k, len(cands))]
}

// PrintTable writes the results as a short table.
func PrintTable(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\n%s: %.1f req/s offered for %.0fs, mix %v, %d users signed in; %d sent, %d unsent, max start lag %s\n",
		r.Target, r.Rate, r.DurationS, r.Mix, r.SignIn.OK, r.Schedule.Sent, r.Schedule.Unsent, r.Schedule.MaxLag.Round(time.Microsecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "call\tcount\tok\terrors\tok/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	line := func(name string, c CallReport) {
		var n int64
		for _, v := range c.Errors {
			n += v
		}
		l := c.Latency
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, c.Count, c.OK, n, c.Throughput, l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	for _, name := range sortedKeys(r.Calls) {
		line(name, r.Calls[name])
	}
	line("total", r.Total)
	tw.Flush()
	for _, name := range sortedKeys(r.Calls) {
		if errs := r.Calls[name].Errors; len(errs) > 0 {
			parts := make([]string, 0, len(errs))
			for _, code := range sortedKeys(errs) {
				parts = append(parts, fmt.Sprintf("%s=%d", code, errs[code]))
			}
			fmt.Fprintf(w, "errors %s: %s\n", name, strings.Join(parts, " "))
		}
	}
	v := r.Visibility
	fmt.Fprintf(w, "fan-out visibility: %d posts sampled, %d watched on %d timelines: %d visible (p50 %.1f ms, p99 %.1f ms, max %.1f ms), %d never within %.0fs, %d failed; %d without signed-in followers, %d skipped (too many checks at once); %d polls (%.1f/s)",
		v.Sampled, v.Checked, v.Watchers, v.Visible, v.Latency.P50, v.Latency.P99, v.Latency.Max, v.Never, v.TimeoutS, v.Failed, v.NoWatchers, v.Skipped, v.Polls, float64(v.Polls)/r.WallS)
	if len(v.PollErrors) > 0 {
		fmt.Fprintf(w, " (poll errors %v)", v.PollErrors)
	}
	fmt.Fprintln(w)
}

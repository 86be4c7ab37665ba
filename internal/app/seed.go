package app

// Seeding for load tests (`ejazz admin seed`): a graph of users and follows
// written straight to the profile's stores — verified accounts sharing one
// argon2id hash, profiles, graph nodes and follows — because registering
// thousands of users through SignUp (a workflow, argon2 and a mailed code
// each) would take hours. Writes bypass the services, so no domain events
// (notifications, analytics) are published for seeded users and follows.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// SeedGraph is a social graph to seed: users 0..Users-1 and directed follows
// between them.
type SeedGraph struct {
	// Name describes the graph, e.g. "reed98:socfb-Reed98.edges".
	Name  string
	Users int
	// Follows are (follower, followed) pairs, without duplicates or self
	// follows.
	Follows [][2]int32
}

// Followers returns, for every user, the users that follow it, in the
// order of g.Follows.
func (g *SeedGraph) Followers() [][]int32 {
	out := make([][]int32, g.Users)
	for _, f := range g.Follows {
		out[f[1]] = append(out[f[1]], f[0])
	}
	return out
}

// LoadSeedGraph builds the graph a spec names: "reed98:<path>" reads an
// undirected edge list (the socfb-Reed98 format, see ParseEdgeList), every
// edge a mutual follow; "powerlaw:<n>" generates PowerLawGraph(n,
// followsPerUser, seed).
func LoadSeedGraph(spec string, followsPerUser int, seed uint64) (*SeedGraph, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("graph %q: want reed98:<path> or powerlaw:<followers>", spec)
	}
	switch kind {
	case "reed98", "edges":
		f, err := os.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("graph %s: %w", spec, err)
		}
		defer f.Close()
		g, err := ParseEdgeList(f)
		if err != nil {
			return nil, fmt.Errorf("graph %s: %w", spec, err)
		}
		g.Name = spec
		return g, nil
	case "powerlaw":
		n, err := strconv.Atoi(strings.ReplaceAll(arg, "_", ""))
		if err != nil || n < 1 || n > 10_000_000 {
			return nil, fmt.Errorf("graph %q: powerlaw size must be a number of followers from 1 to 10,000,000", spec)
		}
		if followsPerUser < 0 {
			return nil, fmt.Errorf("graph %q: follows per user must not be negative", spec)
		}
		return PowerLawGraph(n, followsPerUser, seed), nil
	}
	return nil, fmt.Errorf("graph %q: unknown kind %q (want reed98 or powerlaw)", spec, kind)
}

// ParseEdgeList reads an undirected edge list: one edge per line, two
// 0-based user indexes separated by white space (further columns, such as
// weights, are ignored); blank lines and lines starting with '%' or '#' are
// skipped. Every edge becomes a mutual follow; repeated edges and self loops
// are dropped. The graph has max index + 1 users.
func ParseEdgeList(r io.Reader) (*SeedGraph, error) {
	sc := bufio.NewScanner(r)
	seen := map[[2]int32]bool{}
	g := &SeedGraph{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '%' || text[0] == '#' {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: want two user indexes, got %q", line, text)
		}
		var ends [2]int32
		for i, f := range fields[:2] {
			v, err := strconv.ParseInt(f, 10, 32)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("line %d: %q is not a user index", line, f)
			}
			ends[i] = int32(v)
			g.Users = max(g.Users, int(v)+1)
		}
		a, b := ends[0], ends[1]
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		if seen[[2]int32{a, b}] {
			continue
		}
		seen[[2]int32{a, b}] = true
		g.Follows = append(g.Follows, [2]int32{a, b}, [2]int32{b, a})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if g.Users == 0 {
		return nil, errors.New("no edges")
	}
	return g, nil
}

// PowerLawGraph generates, deterministically from seed, a graph of
// followers+1 users: user 0 is followed by every other user (an account with
// exactly `followers` followers), and every user i ≥ 2 also follows up to
// followsPerUser distinct earlier users among 1..i-1, each picked with
// probability proportional to its follower count plus one (preferential
// attachment, Price's model), so follower counts below the top account follow
// a power law.
func PowerLawGraph(followers, followsPerUser int, seed uint64) *SeedGraph {
	n := followers + 1
	g := &SeedGraph{Name: fmt.Sprintf("powerlaw:%d", followers), Users: n}
	g.Follows = make([][2]int32, 0, followers*(1+followsPerUser))
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	// pool holds each user once, plus once per follower it has: a uniform
	// pick from it is a pick proportional to followers + 1.
	pool := make([]int32, 0, n+followers*followsPerUser)
	picked := make(map[int32]bool, followsPerUser)
	for i := int32(1); i < int32(n); i++ {
		g.Follows = append(g.Follows, [2]int32{i, 0})
		k := min(followsPerUser, int(i)-1)
		clear(picked)
		var mine []int32
		for len(mine) < k {
			t := pool[rng.IntN(len(pool))]
			if picked[t] {
				continue
			}
			picked[t] = true
			mine = append(mine, t)
		}
		for _, t := range mine {
			g.Follows = append(g.Follows, [2]int32{i, t})
		}
		pool = append(pool, mine...)
		pool = append(pool, i)
	}
	return g
}

// SeedOptions configures Seed.
type SeedOptions struct {
	// Prefix starts every handle: user i is @<Prefix>_<i>. Letters, digits
	// and underscores; it also keys the user IDs, so a re-run with the same
	// prefix finds the same users.
	Prefix string
	// Password is every seeded user's password.
	Password string
	// EmailDomain gives user i the address <prefix>_<i>@<EmailDomain>.
	EmailDomain string
	// Concurrency bounds the store calls in flight (default 8).
	Concurrency int
	// Progress, when set, is called about once a second and once at the end
	// of each phase.
	Progress func(SeedProgress)
}

// SeedProgress is how far a Seed is.
type SeedProgress struct {
	// Phase is "users" or "follows".
	Phase       string
	UsersDone   int
	Users       int
	FollowsDone int
	Follows     int
	Elapsed     time.Duration
}

// SeededUser is one seeded user as the load generator reads it.
type SeededUser struct {
	// Index is the user's index in the graph.
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Handle   string `json:"handle"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// Followers are the indexes of the users following this one in the
	// seeded graph.
	Followers []int32 `json:"followers"`
}

// SeedResult is what Seed wrote: the users file of `ejazz admin seed`.
type SeedResult struct {
	Graph    string       `json:"graph"`
	Prefix   string       `json:"prefix"`
	Follows  int          `json:"follows"`
	SeededAt time.Time    `json:"seeded_at"`
	Users    []SeededUser `json:"users"`
	// UsersTime and FollowsTime are how long the two phases took.
	UsersTime   time.Duration `json:"users_time_ns"`
	FollowsTime time.Duration `json:"follows_time_ns"`
	// UsersCreated and FollowsCreated count what this run added (the rest
	// was there already).
	UsersCreated   int `json:"users_created"`
	FollowsCreated int `json:"follows_created"`
}

// SeedUserID is the ID of user index under prefix: a name-based (SHA-1)
// UUID, so that seeding again finds the same accounts.
func SeedUserID(prefix string, index int) string {
	return uuid.NewSHA1(seedNamespace, []byte(prefix+"/"+strconv.Itoa(index))).String()
}

// seedNamespace is the name space of seeded user IDs.
var seedNamespace = uuid.MustParse("8f1c3a52-6d1e-4b7a-9c0e-5e3d2a1b7f40")

// SeedHandle is the handle of user index under prefix.
func SeedHandle(prefix string, index int) string { return prefix + "_" + strconv.Itoa(index) }

// validateSeed checks the options against the account rules.
func validateSeed(g *SeedGraph, o *SeedOptions) error {
	if o.Prefix == "" {
		return errors.New("seed: a prefix is required")
	}
	for _, i := range []int{0, g.Users - 1} {
		if err := auth.ValidateHandle(SeedHandle(o.Prefix, i)); err != nil {
			return fmt.Errorf("seed: prefix %q gives handles like @%s: %w", o.Prefix, SeedHandle(o.Prefix, i), err)
		}
	}
	if err := auth.ValidateEmail(strings.ToLower(SeedHandle(o.Prefix, 0)) + "@" + o.EmailDomain); err != nil {
		return fmt.Errorf("seed: email domain %q: %w", o.EmailDomain, err)
	}
	if len(o.Password) < 8 {
		return errors.New("seed: the password must have at least 8 characters")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	return nil
}

// Seed writes g to the stores (Accounts, Profiles and Graph must be open and
// migrated): for every user a verified account, a public profile and a graph
// node, then every follow. It is idempotent — users and follows already there
// are left as they are (an existing seeded account gets this run's password)
// — and retries writes that a busy SQLite file refused, so it can run beside
// `ejazz dev` on the same data directory. One argon2id hash of the password is
// computed (or, when user 0 already has that password, reused) for all users.
func Seed(ctx context.Context, st *Stores, g *SeedGraph, o SeedOptions) (*SeedResult, error) {
	if st.Accounts == nil || st.Profiles == nil || st.Graph == nil {
		return nil, errors.New("seed: the accounts, profiles and graph stores must be open")
	}
	if err := validateSeed(g, &o); err != nil {
		return nil, err
	}
	hash, err := seedPasswordHash(ctx, st.Accounts, o)
	if err != nil {
		return nil, err
	}
	res := &SeedResult{Graph: g.Name, Prefix: o.Prefix, Follows: len(g.Follows), SeededAt: time.Now().UTC()}
	users := make([]SeededUser, g.Users)
	for i := range users {
		h := SeedHandle(o.Prefix, i)
		users[i] = SeededUser{Index: i, ID: SeedUserID(o.Prefix, i), Handle: h, Email: strings.ToLower(h) + "@" + o.EmailDomain, Password: o.Password}
	}
	var usersDone, usersCreated, followsDone atomic.Int64
	phase := atomic.Value{}
	phase.Store("users")
	start := time.Now()
	report := func() {
		if o.Progress != nil {
			o.Progress(SeedProgress{Phase: phase.Load().(string), UsersDone: int(usersDone.Load()), Users: g.Users,
				FollowsDone: int(followsDone.Load()), Follows: len(g.Follows), Elapsed: time.Since(start)})
		}
	}
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-stopTicker:
				return
			}
		}
	}()
	defer func() { close(stopTicker); <-tickerDone }()

	now := time.Now().UTC()
	err = parallel(ctx, g.Users, o.Concurrency, func(ctx context.Context, i int) error {
		isNew, err := seedUser(ctx, st, users[i], hash, now, o.Prefix)
		if err != nil {
			return err
		}
		if isNew {
			usersCreated.Add(1)
		}
		usersDone.Add(1)
		return nil
	})
	res.UsersTime = time.Since(start)
	res.UsersCreated = int(usersCreated.Load())
	report()
	if err != nil {
		return nil, err
	}
	phase.Store("follows")
	fstart := time.Now()
	// Follows grouped by follower: one read of whom the follower already
	// follows (cheap, and concurrent on every engine) spares a write
	// transaction per existing follow when seeding again.
	following := make([][]int32, g.Users)
	for _, f := range g.Follows {
		following[f[0]] = append(following[f[0]], f[1])
	}
	var created atomic.Int64
	err = parallel(ctx, g.Users, o.Concurrency, func(ctx context.Context, i int) error {
		if len(following[i]) == 0 {
			return nil
		}
		from := users[i].ID
		have, err := followingSet(ctx, st.Graph, from)
		if err != nil {
			return fmt.Errorf("seed: whom @%s follows: %w", users[i].Handle, err)
		}
		for _, t := range following[i] {
			to := users[t].ID
			if !have[to] {
				var changed bool
				err := retryBusy(ctx, func() (err error) {
					_, changed, err = st.Graph.Follow(ctx, from, to)
					return err
				})
				if err != nil {
					return fmt.Errorf("seed: @%s follows @%s: %w", users[i].Handle, users[t].Handle, err)
				}
				if changed {
					created.Add(1)
				}
			}
			followsDone.Add(1)
		}
		return nil
	})
	res.FollowsCreated = int(created.Load())
	res.FollowsTime = time.Since(fstart)
	report()
	if err != nil {
		return nil, err
	}
	for i, fs := range g.Followers() {
		users[i].Followers = fs
		if users[i].Followers == nil {
			users[i].Followers = []int32{}
		}
	}
	res.Users = users
	return res, nil
}

// followingSet returns whom userID follows.
func followingSet(ctx context.Context, g graph.Store, userID string) (map[string]bool, error) {
	set := map[string]bool{}
	cursor := ""
	for {
		var page graph.Page
		err := retryBusy(ctx, func() (err error) { page, err = g.Following(ctx, userID, cursor, 1000); return err })
		if err != nil {
			return nil, err
		}
		for _, e := range page.Edges {
			set[e.UserID] = true
		}
		if page.Next == "" {
			return set, nil
		}
		cursor = page.Next
	}
}

// seedPasswordHash returns the hash every seeded account gets: user 0's
// stored hash when it is of this password (so a re-run rewrites nothing),
// otherwise a fresh one.
func seedPasswordHash(ctx context.Context, accounts account.Store, o SeedOptions) (string, error) {
	acc, err := accounts.Get(ctx, SeedUserID(o.Prefix, 0))
	if err == nil {
		if ok, _ := auth.VerifyPassword(o.Password, acc.PasswordHash); ok {
			return acc.PasswordHash, nil
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("seed: %w", err)
	}
	return auth.HashPassword(o.Password, auth.DefaultArgon2)
}

// seedUser makes u a verified account with a public profile and a graph
// node, or brings an earlier seeded one there; isNew reports a new account.
func seedUser(ctx context.Context, st *Stores, u SeededUser, hash string, now time.Time, prefix string) (isNew bool, err error) {
	wrap := func(what string, err error) error { return fmt.Errorf("seed: @%s: %s: %w", u.Handle, what, err) }
	var acc account.Account
	err = retryBusy(ctx, func() (err error) { acc, err = st.Accounts.Get(ctx, u.ID); return err })
	switch {
	case errors.Is(err, storage.ErrNotFound):
		isNew = true
		err = retryBusy(ctx, func() error {
			return st.Accounts.Create(ctx, account.Account{ID: u.ID, Email: u.Email, Handle: u.Handle, PasswordHash: hash, CreatedAt: now, VerifiedAt: now})
		})
		if f, ok := account.IsTaken(err); ok {
			return false, wrap("account", fmt.Errorf("the %s is taken by another account (choose another --prefix)", f))
		}
		if err != nil {
			return false, wrap("account", err)
		}
	case err != nil:
		return false, wrap("account", err)
	default:
		if acc.Email != u.Email || !strings.EqualFold(acc.Handle, u.Handle) {
			return false, wrap("account", fmt.Errorf("user %s exists as @%s <%s>", u.ID, acc.Handle, acc.Email))
		}
		if acc.PasswordHash != hash {
			if err := retryBusy(ctx, func() error { return st.Accounts.SetPasswordHash(ctx, u.ID, hash) }); err != nil {
				return false, wrap("password", err)
			}
		}
		if !acc.Verified() {
			if err := retryBusy(ctx, func() error { return st.Accounts.MarkVerified(ctx, u.ID, now) }); err != nil {
				return false, wrap("verify", err)
			}
		}
	}
	// For an existing account, reads first: a re-run then writes nothing.
	hasProfile, hasNode := false, false
	if !isNew {
		err := retryBusy(ctx, func() error {
			_, err := st.Profiles.Get(ctx, u.ID)
			hasProfile = err == nil
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return false, wrap("profile", err)
		}
		err = retryBusy(ctx, func() error {
			counts, err := st.Graph.Counts(ctx, []string{u.ID})
			_, hasNode = counts[u.ID]
			return err
		})
		if err != nil {
			return false, wrap("graph node", err)
		}
	}
	if !hasProfile {
		err = retryBusy(ctx, func() error {
			return st.Profiles.Create(ctx, profile.Profile{UserID: u.ID, Handle: u.Handle, DisplayName: strings.ToUpper(prefix) + " user " + strconv.Itoa(u.Index), CreatedAt: now})
		})
		if err != nil {
			return false, wrap("profile", err)
		}
	}
	if !hasNode {
		if err := retryBusy(ctx, func() error { _, err := st.Graph.PutUser(ctx, u.ID, false); return err }); err != nil {
			return false, wrap("graph node", err)
		}
	}
	return isNew, nil
}

// parallel runs fn for 0..n-1 on up to workers goroutines and returns the
// first error (which stops the rest).
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// retryBusy runs fn until it succeeds or fails with something other than
// SQLite's "busy": another process (`ejazz dev`) writing the same file can
// refuse a transaction that SQLite's busy timeout does not cover (a read
// snapshot that went stale before its write).
func retryBusy(ctx context.Context, fn func() error) error {
	wait := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt == 30 || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait)))):
		}
		wait = min(2*wait, time.Second)
	}
}

// isBusy reports a SQLite busy or locked error.
func isBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked") || strings.Contains(s, "SQLITE_LOCKED")
}

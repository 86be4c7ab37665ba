package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/profile"
)

func TestParseEdgeList(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		users    int
		follows  [][2]int32
		err      bool
	}{
		{name: "pairs", in: "1 0\n2 0\n", users: 3, follows: [][2]int32{{0, 1}, {1, 0}, {0, 2}, {2, 0}}},
		{name: "comments, blanks, weights, tabs", in: "% header\n# more\n\n0\t3 1.0\n", users: 4, follows: [][2]int32{{0, 3}, {3, 0}}},
		{name: "duplicates both ways and self loops", in: "0 1\n1 0\n0 1\n2 2\n", users: 3, follows: [][2]int32{{0, 1}, {1, 0}}},
		{name: "one column", in: "0\n", err: true},
		{name: "negative", in: "0 -1\n", err: true},
		{name: "not a number", in: "a b\n", err: true},
		{name: "empty", in: "% nothing\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := app.ParseEdgeList(strings.NewReader(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("accepted: %+v", g)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Users != tc.users || !slices.Equal(g.Follows, tc.follows) {
				t.Errorf("got %d users %v, want %d users %v", g.Users, g.Follows, tc.users, tc.follows)
			}
		})
	}
}

// TestReed98 reads the socfb-Reed98 file kept beside the repository, when
// it is there: 962 users, 18,812 edges, so 37,624 follows.
func TestReed98(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "socfb-Reed98", "socfb-Reed98.edges")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no socfb-Reed98 edge list at %s", path)
	}
	g, err := app.LoadSeedGraph("reed98:"+path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g.Users != 962 || len(g.Follows) != 2*18_812 {
		t.Errorf("%d users, %d follows; want 962 and 37,624", g.Users, len(g.Follows))
	}
}

func TestPowerLawGraph(t *testing.T) {
	const n, m = 5000, 5
	g := app.PowerLawGraph(n, m, 42)
	if g.Users != n+1 {
		t.Fatalf("%d users", g.Users)
	}
	seen := map[[2]int32]bool{}
	out := make([]int, g.Users)
	for _, f := range g.Follows {
		if f[0] == f[1] || seen[f] || f[0] < 0 || f[1] < 0 || int(f[0]) >= g.Users || int(f[1]) >= g.Users {
			t.Fatalf("bad follow %v", f)
		}
		seen[f] = true
		out[f[0]]++
	}
	followers := g.Followers()
	if len(followers[0]) != n {
		t.Errorf("the top account has %d followers, want %d", len(followers[0]), n)
	}
	if len(g.Follows) != n+(n-1)*m-(m*(m+1)/2-m) { // user i < m+1 follows i-1 others besides the top one
		t.Errorf("%d follows", len(g.Follows))
	}
	for i := 1; i < g.Users; i++ {
		if out[i] > m+1 {
			t.Fatalf("user %d follows %d accounts", i, out[i])
		}
	}
	// Heavy tail: the most-followed of the rest has far more than the mean.
	most := 0
	for _, fs := range followers[1:] {
		most = max(most, len(fs))
	}
	if mean := float64(n*m) / n; float64(most) < 20*mean {
		t.Errorf("most followers below the top account: %d, mean %.1f: not a heavy tail", most, mean)
	}
	again := app.PowerLawGraph(n, m, 42)
	if !slices.Equal(g.Follows, again.Follows) {
		t.Error("the same seed gave another graph")
	}
	if other := app.PowerLawGraph(n, m, 43); slices.Equal(g.Follows, other.Follows) {
		t.Error("another seed gave the same graph")
	}
}

func TestLoadSeedGraphSpecs(t *testing.T) {
	g, err := app.LoadSeedGraph("powerlaw:1_000", 3, 1)
	if err != nil || g.Users != 1001 {
		t.Fatalf("powerlaw:1_000: %v %v", g, err)
	}
	for _, bad := range []string{"", "reed98", "reed98:", "powerlaw:x", "powerlaw:0", "ring:5", "reed98:/no/such/file"} {
		if _, err := app.LoadSeedGraph(bad, 3, 1); err == nil {
			t.Errorf("LoadSeedGraph(%q) accepted", bad)
		}
	}
}

func seedStores(t *testing.T) *app.Stores {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	ctx := context.Background()
	st, err := app.OpenStores(ctx, &cfg, []string{account.Component, profile.Component, graph.Component})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSeed seeds a small graph on the embedded stores, checks that users
// can sign in and that the follows are there, and seeds again: nothing is
// added, and a new password replaces the old one.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	st := seedStores(t)
	g := app.PowerLawGraph(40, 3, 7)
	var progress []app.SeedProgress
	opts := app.SeedOptions{Prefix: "t", Password: "first password", EmailDomain: "seed.example.com", Concurrency: 4,
		Progress: func(p app.SeedProgress) { progress = append(progress, p) }}
	res, err := app.Seed(ctx, st, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Users) != 41 || res.UsersCreated != 41 || res.FollowsCreated != len(g.Follows) || res.Follows != len(g.Follows) {
		t.Fatalf("result: %d users (%d new), %d follows (%d new)", len(res.Users), res.UsersCreated, res.Follows, res.FollowsCreated)
	}
	if len(progress) < 2 || progress[len(progress)-1].FollowsDone != len(g.Follows) {
		t.Errorf("progress %+v", progress)
	}
	u := res.Users[3]
	if u.Handle != "t_3" || u.ID != app.SeedUserID("t", 3) || u.Password != "first password" || u.Email != "t_3@seed.example.com" {
		t.Errorf("user 3: %+v", u)
	}
	signIns := &auth.SignIns{Accounts: st.Accounts}
	if acc, err := signIns.SignIn(ctx, "t_3", "first password", ""); err != nil || acc.ID != u.ID {
		t.Fatalf("sign-in of a seeded user: %v %v", acc.ID, err)
	}
	if p, err := st.Profiles.GetByHandle(ctx, "t_3"); err != nil || p.UserID != u.ID {
		t.Errorf("profile: %+v %v", p, err)
	}
	counts, err := st.Graph.Counts(ctx, []string{res.Users[0].ID})
	if err != nil || counts[res.Users[0].ID].Followers != 40 {
		t.Errorf("top account counts %+v %v", counts, err)
	}
	if len(res.Users[0].Followers) != 40 {
		t.Errorf("top account lists %d followers", len(res.Users[0].Followers))
	}
	for _, f := range res.Users[5].Followers {
		rel, err := st.Graph.Relationship(ctx, res.Users[f].ID, res.Users[5].ID)
		if err != nil || !rel.Following {
			t.Errorf("user %d should follow user 5: %+v %v", f, rel, err)
		}
	}

	// Again with the same options: nothing new.
	res, err = app.Seed(ctx, st, g, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.UsersCreated != 0 || res.FollowsCreated != 0 {
		t.Errorf("re-run created %d users and %d follows", res.UsersCreated, res.FollowsCreated)
	}
	// A bigger graph on the same prefix adds the missing users and follows.
	bigger := app.PowerLawGraph(60, 3, 7)
	opts.Password = "second password"
	res, err = app.Seed(ctx, st, bigger, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.UsersCreated != 20 || res.FollowsCreated == 0 {
		t.Errorf("bigger graph: %d users and %d follows created", res.UsersCreated, res.FollowsCreated)
	}
	if _, err := signIns.SignIn(ctx, "t_3", "second password", ""); err != nil {
		t.Errorf("the new password does not work for an existing user: %v", err)
	}
	if _, err := signIns.SignIn(ctx, "t_50", "second password", ""); err != nil {
		t.Errorf("a new user cannot sign in: %v", err)
	}
}

func TestSeedRefusals(t *testing.T) {
	ctx := context.Background()
	st := seedStores(t)
	g := app.PowerLawGraph(3, 1, 1)
	ok := app.SeedOptions{Prefix: "ok", Password: "a good password", EmailDomain: "seed.example.com"}
	for name, o := range map[string]app.SeedOptions{
		"no prefix":   {Password: ok.Password, EmailDomain: ok.EmailDomain},
		"bad prefix":  {Prefix: "no-dash", Password: ok.Password, EmailDomain: ok.EmailDomain},
		"long prefix": {Prefix: strings.Repeat("p", 29), Password: ok.Password, EmailDomain: ok.EmailDomain},
		"short pw":    {Prefix: "ok", Password: "short", EmailDomain: ok.EmailDomain},
		"bad domain":  {Prefix: "ok", Password: ok.Password, EmailDomain: "nodot"},
	} {
		if _, err := app.Seed(ctx, st, g, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A handle of the graph belongs to someone else.
	hash, err := auth.HashPassword("x-password", auth.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Accounts.Create(ctx, account.Account{ID: "someone", Email: "someone@example.com", Handle: "ok_2", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	_, err = app.Seed(ctx, st, g, ok)
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("clash with an existing handle: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("the clash should be the error, not the cancellation: %v", err)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/profile"
)

// seedCmd is `admin seed`: users and follows for load tests, written
// straight to the configured profile's stores (see app.Seed).
func seedCmd() *cobra.Command {
	var (
		spec, prefix, out, password, domain string
		concurrency, followsPerUser         int
		seed                                uint64
	)
	c := &cobra.Command{
		Use:   "seed --graph reed98:<path>|powerlaw:<followers> --prefix <p> --out users.json",
		Short: "Seed verified users and follows for load tests straight into the stores, and list them in a JSON file (idempotent)",
		Long: `Seed a social graph for load tests (bench/loadgen) straight into the configured profile's stores:
a verified account (all sharing one password), a public profile and a graph node per user, then every follow.

  --graph reed98:<path>       an undirected edge list ("a b" per line, 0-based users), every edge a mutual follow
  --graph powerlaw:<n>        n+1 users: user 0 followed by all n others, and every user following
                              --follows-per-user earlier users by preferential attachment (fixed --seed)

User i is @<prefix>_<i>; IDs derive from prefix and index, so running it again leaves what is there and adds
what is missing. On the embedded profile it may run beside ` + "`ejazz dev`" + ` on the same data directory.
No events are published for seeded data (no notifications, no analytics).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec == "" || prefix == "" || out == "" {
				return fmt.Errorf("--graph, --prefix and --out are required")
			}
			g, err := app.LoadSeedGraph(spec, followsPerUser, seed)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			stores, err := app.OpenStores(cmd.Context(), cfg, []string{account.Component, profile.Component, graph.Component})
			if err != nil {
				return err
			}
			defer stores.Close()
			if err := stores.Migrate(cmd.Context()); err != nil {
				return err
			}
			log := cmd.ErrOrStderr()
			fmt.Fprintf(log, "seeding %s on the %s profile: %d users, %d follows, %d writers\n", g.Name, cfg.Profile, g.Users, len(g.Follows), concurrency)
			var last app.SeedProgress
			var lastAt time.Duration
			res, err := app.Seed(cmd.Context(), stores, g, app.SeedOptions{
				Prefix: prefix, Password: password, EmailDomain: domain, Concurrency: concurrency,
				Progress: func(p app.SeedProgress) {
					dt := (p.Elapsed - lastAt).Seconds()
					rate := 0.0
					if dt > 0 {
						rate = float64(p.UsersDone-last.UsersDone+p.FollowsDone-last.FollowsDone) / dt
					}
					fmt.Fprintf(log, "%6.1fs %-7s users %d/%d  follows %d/%d  (%.0f/s)\n",
						p.Elapsed.Seconds(), p.Phase, p.UsersDone, p.Users, p.FollowsDone, p.Follows, rate)
					last, lastAt = p, p.Elapsed
				},
			})
			if err != nil {
				return err
			}
			if err := writeJSONFile(out, res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "seeded %s: %d users in %s (%d new), %d follows in %s (%d new); users listed in %s\n",
				g.Name, len(res.Users), res.UsersTime.Round(time.Millisecond), res.UsersCreated,
				res.Follows, res.FollowsTime.Round(time.Millisecond), res.FollowsCreated, out)
			return nil
		},
	}
	c.Flags().StringVar(&spec, "graph", "", "reed98:<edge list path> or powerlaw:<followers of the top account>")
	c.Flags().StringVar(&prefix, "prefix", "", "handle prefix: users are @<prefix>_<index>")
	c.Flags().StringVar(&out, "out", "", "JSON file listing the seeded users (id, handle, email, password, followers)")
	c.Flags().StringVar(&password, "password", "ejazz-bench-password", "every seeded user's password")
	c.Flags().StringVar(&domain, "email-domain", "seed.ejazz.test", "seeded users' email domain")
	c.Flags().IntVar(&concurrency, "concurrency", 8, "store writes in flight")
	c.Flags().IntVar(&followsPerUser, "follows-per-user", 5, "powerlaw: accounts each user follows besides the top one")
	c.Flags().Uint64Var(&seed, "seed", 1, "powerlaw: random seed")
	return c
}

// writeJSONFile writes v as JSON to path through a temporary file, so that
// a reader never sees half a file.
func writeJSONFile(path string, v any) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	enc := json.NewEncoder(tmp)
	if err := enc.Encode(v); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

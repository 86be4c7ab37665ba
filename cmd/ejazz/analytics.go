package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/backfill"
	"github.com/ejazz/ejazz/internal/app"
)

// analyticsCmd groups the analytics operator commands.
func analyticsCmd() *cobra.Command {
	c := &cobra.Command{Use: "analytics", Short: "Analytics operations (backfill, spool replay)"}
	c.AddCommand(backfillCmd(), replayCmd())
	return c
}

// replayCmd is `analytics replay`: insert the spooled batches that an
// ingester could not write (its process stopped before the analytics store
// came back) into the configured profile's analytics store.
func replayCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "replay [--spool <dir>]",
		Short: "Replay spooled analytics events into the analytics store, with a progress bar (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = cfg.Analytics.SpoolDir
			}
			if dir == "" {
				dir = filepath.Join(cfg.DataDir, "analytics-spool")
			}
			files, total, err := analytics.SpoolEvents(dir)
			if err != nil {
				return err
			}
			if files == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "nothing to replay in %s\n", dir)
				return nil
			}
			stores, err := app.OpenStores(cmd.Context(), cfg, []string{analytics.Component})
			if err != nil {
				return err
			}
			defer stores.Close()
			if err := stores.Migrate(cmd.Context()); err != nil {
				return err
			}
			bar := progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription("replaying events"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			start := time.Now()
			done, err := analytics.ReplaySpool(cmd.Context(), dir, stores.Analytics, func(n int64) { _ = bar.Set64(n) })
			_ = bar.Finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d events from %d files of %s into %s in %s\n", done, files, dir, stores.Analytics.Name(), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	c.Flags().StringVar(&dir, "spool", "", "spool directory (default analytics.spool_dir, or <data_dir>/analytics-spool)")
	return c
}

// backfillCmd is `analytics backfill`: rebuild the analytics events from
// the stores of record (accounts, posts, engagement, comments, follows,
// media) into the configured profile's analytics store. Events keep the
// IDs the live path gives them, so running it over live data, or twice,
// changes no figure.
func backfillCmd() *cobra.Command {
	var batch int
	var since, until string
	c := &cobra.Command{
		Use:   "backfill [--since <time>] [--until <time>] [--batch <n>]",
		Short: "Rebuild analytics events from the stores of record, with a progress bar (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			o := backfill.Options{BatchSize: batch}
			if since != "" {
				if o.Since, err = parseTime("--since", since); err != nil {
					return err
				}
			}
			if until != "" {
				if o.Until, err = parseTime("--until", until); err != nil {
					return err
				}
			}
			// The number of rows is unknown until the scans end: the bar
			// counts events and shows the rate, per source.
			bar := progressbar.NewOptions64(-1,
				progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription("backfilling"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			var done int64 // events of the sources finished
			source := ""
			o.Progress = func(p backfill.Progress) {
				if p.Source != source {
					if source != "" {
						done = bar.State().CurrentNum
					}
					source = p.Source
					bar.Describe("backfilling " + source)
				}
				_ = bar.Set64(done + p.Events)
			}
			st, err := app.Backfill(cmd.Context(), cfg, o)
			_ = bar.Finish()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, name := range []string{"accounts", "posts", "engagement", "comments", "follows", "media"} {
				fmt.Fprintf(out, "%-11s %9d rows  %9d events\n", name, st.Rows[name], st.Events[name])
			}
			n := st.TotalEvents()
			fmt.Fprintf(out, "backfilled %d events in %s (%.0f events/s); events already stored were counted once\n",
				n, st.Elapsed.Round(time.Millisecond), float64(n)/max(st.Elapsed.Seconds(), 1e-9))
			return nil
		},
	}
	c.Flags().IntVar(&batch, "batch", 10_000, "rows per scan page and events per insert")
	c.Flags().StringVar(&since, "since", "", "only events at or after this time (2006-01-02 or RFC 3339, UTC)")
	c.Flags().StringVar(&until, "until", "", "only events before this time, e.g. when live ingestion began (2006-01-02 or RFC 3339, UTC)")
	return c
}

// parseTime reads a flag's day or RFC 3339 time.
func parseTime(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want 2006-01-02 or an RFC 3339 time", flag, s)
	}
	return t, nil
}

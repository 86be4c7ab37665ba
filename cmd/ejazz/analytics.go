package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/app"
)

// analyticsCmd groups the analytics operator commands.
func analyticsCmd() *cobra.Command {
	c := &cobra.Command{Use: "analytics", Short: "Analytics operations (event replay)"}
	c.AddCommand(replayCmd())
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

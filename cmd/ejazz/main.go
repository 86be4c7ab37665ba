// Command ejazz is the one Ejazz binary:
//
//	ejazz dev                      the whole platform in one process (embedded profile)
//	ejazz serve <service…|all>     public services (scale profile: one process per service group)
//	ejazz serve gateway            the public gateway in front of them (routing, rate limits, REST)
//	ejazz worker <queue…|all>      Temporal workers for the given task queues
//	ejazz migrate                  apply every store's schema (idempotent, versioned)
//	ejazz temporal                 a standalone embedded Temporal server with its UI
//	ejazz admin system-check       run the end-to-end self-check workflow
//	ejazz analytics replay         replay spooled analytics events (progress bar)
//
// Configuration: defaults < config/<env>.yaml (or --config) < EJAZZ_* env < flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ejazz/ejazz/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ejazz:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "ejazz",
		Short:         "Ejazz: a workflow-orchestrated social platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	config.RegisterFlags(root.PersistentFlags())
	root.AddCommand(devCmd(), serveCmd(), workerCmd(), migrateCmd(), temporalCmd(), adminCmd(), configCmd(), analyticsCmd())
	return root
}

// loadConfig loads the configuration for cmd.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(cmd.Flags(), os.Environ())
}

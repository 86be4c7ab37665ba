package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/devtemporal"
	"github.com/ejazz/ejazz/internal/edge"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/workflows"
)

func devCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run the whole platform in one process (embedded profile: in-process Temporal + UI, SQLite, local media)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := app.NewLogger(cfg, os.Stderr)
			return app.Dev(cmd.Context(), cfg, log, func(r *app.Running) {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Ejazz is running (embedded profile, data in %s), ready in %s\n", cfg.DataDir, r.Started.Round(time.Millisecond))
				fmt.Fprintf(out, "  API (Connect, gRPC, gRPC-Web): http://%s\n", r.HTTPAddr)
				fmt.Fprintf(out, "  REST/JSON and OpenAPI:         http://%s/v1/…, http://%s/openapi.json\n", r.HTTPAddr, r.HTTPAddr)
				fmt.Fprintf(out, "  Health:                        http://%s/readyz\n", r.HTTPAddr)
				fmt.Fprintf(out, "  Metrics:                       http://%s/metrics\n", r.HTTPAddr)
				fmt.Fprintf(out, "  Temporal frontend:             %s (namespace %s)\n", r.TemporalAddr, cfg.Temporal.Namespace)
				if r.TemporalUI != "" {
					fmt.Fprintf(out, "  Temporal UI:                   %s\n", r.TemporalUI)
				}
				fmt.Fprintln(out, "Press Ctrl-C to stop.")
			})
		},
	}
}

func serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve <service…|all> | serve gateway",
		Short: fmt.Sprintf("Serve public services %v on the configured profile, or the gateway in front of them", edge.ServiceNames()),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] == app.GatewayService {
				cfg, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				return app.Gateway(cmd.Context(), cfg, app.NewLogger(cfg, os.Stderr), nil)
			}
			services, err := app.ExpandAll("service", args, edge.ServiceNames())
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return app.Serve(cmd.Context(), cfg, app.NewLogger(cfg, os.Stderr), services, nil)
		},
	}
}

func workerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker <queue…|all>",
		Short: fmt.Sprintf("Run Temporal workers for task queues %v", workflows.Queues),
		RunE: func(cmd *cobra.Command, args []string) error {
			queues, err := app.ExpandAll("task queue", args, workflows.Queues)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return app.Work(cmd.Context(), cfg, app.NewLogger(cfg, os.Stderr), queues, nil)
		},
	}
}

func migrateCmd() *cobra.Command {
	var noTemporal bool
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply every store's schema migrations and register Temporal search attributes (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			// The embedded profile's Temporal lives inside `ejazz dev`, which
			// registers the search attributes itself.
			withTemporal := !noTemporal && cfg.Profile == "scale"
			return app.Migrate(cmd.Context(), cfg, app.NewLogger(cfg, os.Stderr), withTemporal)
		},
	}
	c.Flags().BoolVar(&noTemporal, "no-temporal", false, "skip registering search attributes on Temporal")
	return c
}

func temporalCmd() *cobra.Command {
	var frontend, ui, db, namespace string
	c := &cobra.Command{
		Use:   "temporal",
		Short: "Run a standalone Temporal server (SQLite file) with its Web UI, as dev/stack does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := devtemporal.Start(cmd.Context(), devtemporal.Options{
				DBPath:           db,
				FrontendAddr:     frontend,
				UIAddr:           ui,
				Namespace:        namespace,
				SearchAttributes: workflows.SearchAttributeTypes(),
				LogFile:          filepath.Join(filepath.Dir(db), "temporal-server.log"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Temporal frontend %s (namespace %s), UI %s\n", ts.FrontendAddr(), namespace, ts.UIURL())
			<-cmd.Context().Done()
			return ts.Stop()
		},
	}
	c.Flags().StringVar(&frontend, "frontend", "127.0.0.1:7233", "frontend gRPC address")
	c.Flags().StringVar(&ui, "ui", "127.0.0.1:8233", "Web UI address (empty disables it)")
	c.Flags().StringVar(&db, "db", ".ejazz/temporal/temporal.db", "SQLite database file")
	c.Flags().StringVar(&namespace, "namespace", "default", "namespace to create")
	return c
}

func adminCmd() *cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Operator commands"}
	var key string
	check := &cobra.Command{
		Use:   "system-check",
		Short: "Run the SystemCheck workflow (API process → Temporal → worker → every store) and print its result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			tc, err := app.DialTemporal(cmd.Context(), cfg, app.NewLogger(cfg, os.Stderr))
			if err != nil {
				return err
			}
			defer tc.Close()
			if key == "" {
				key = time.Now().UTC().Format("20060102T150405.000")
			}
			run, err := tc.ExecuteWorkflow(cmd.Context(), client.StartWorkflowOptions{
				ID: workflows.SystemCheckWorkflowID(key), TaskQueue: workflows.QueueSystem,
			}, workflows.SystemCheck, &workflows.SystemCheckInput{Requester: "ejazz admin"})
			if err != nil {
				return err
			}
			var res workflows.SystemCheckResult
			if err := run.Get(cmd.Context(), &res); err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
			if !res.Healthy {
				return fmt.Errorf("system check %s: unhealthy stores", run.GetID())
			}
			return nil
		},
	}
	check.Flags().StringVar(&key, "key", "", "business key of the check (same key → same workflow run)")
	admin.AddCommand(check, roleCmd(true), roleCmd(false), seedCmd())
	return admin
}

// roleCmd is `admin grant-role` (grant) or `admin revoke-role`.
func roleCmd(grant bool) *cobra.Command {
	var handle, role string
	use, short := "grant-role", "Grant a role (analyst, admin) to a user"
	if !grant {
		use, short = "revoke-role", "Revoke a role from a user"
	}
	c := &cobra.Command{
		Use:   use + " --handle <handle> --role <role>",
		Short: short + "; it reaches the user's access tokens at their next refresh",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(account.KnownRoles, role) {
				return fmt.Errorf("--role must be one of %v, got %q", account.KnownRoles, role)
			}
			if handle == "" {
				return fmt.Errorf("--handle is required")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			stores, err := app.OpenStores(cmd.Context(), cfg, []string{account.Component})
			if err != nil {
				return err
			}
			defer stores.Close()
			if err := stores.Migrate(cmd.Context()); err != nil {
				return err
			}
			acc, err := stores.Accounts.GetByHandle(cmd.Context(), strings.TrimPrefix(handle, "@"))
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no user with handle %q", handle)
			}
			if err != nil {
				return err
			}
			if grant {
				err = stores.Accounts.GrantRole(cmd.Context(), acc.ID, role)
			} else {
				err = stores.Accounts.RevokeRole(cmd.Context(), acc.ID, role)
			}
			if err != nil {
				return err
			}
			roles, err := stores.Accounts.Roles(cmd.Context(), acc.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "@%s (%s) roles: %v\n", acc.Handle, acc.ID, roles)
			return nil
		},
	}
	c.Flags().StringVar(&handle, "handle", "", "the user's handle")
	c.Flags().StringVar(&role, "role", "", fmt.Sprintf("one of %v", account.KnownRoles))
	return c
}

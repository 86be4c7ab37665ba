package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
)

// SystemCheckInput asks the workers to probe the stores they are configured with.
type SystemCheckInput struct {
	// Requester is recorded in the result, for the Temporal UI.
	Requester string
}

// SystemCheckResult is what the probe activity found.
type SystemCheckResult struct {
	Requester string
	// Stores maps each probed store to "ok" or the error it returned.
	Stores map[string]string
	// Healthy is true when every store answered.
	Healthy bool
}

// SystemCheck is the platform's end-to-end self-check: it runs one activity on
// the system task queue that pings every store port the worker holds. It is
// the smallest request → workflow → activity → store path and is what tests
// and ops run to prove a deployment is wired.
func SystemCheck(ctx workflow.Context, in *SystemCheckInput) (*SystemCheckResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second,
			MaximumAttempts: 3,
		},
	})
	var a *activities.System
	var probe activities.ProbeResult
	if err := workflow.ExecuteActivity(ctx, a.ProbeStores).Get(ctx, &probe); err != nil {
		return nil, err
	}
	return &SystemCheckResult{Requester: in.Requester, Stores: probe.Stores, Healthy: probe.Healthy}, nil
}

package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
)

// MediaPipelineInput names the media item whose upload the workflow awaits.
type MediaPipelineInput struct {
	MediaID string
	// PendingTTL is how long the workflow waits for CompleteUpload before it
	// removes the unfinished upload (default 24 h).
	PendingTTL time.Duration
}

// MediaPipelineResult is how the pipeline ended: "ready", "failed" or
// "expired" (never completed; removed).
type MediaPipelineResult struct {
	Status string
	Reason string `json:",omitempty"`
}

// MediaPipeline waits for the upload-complete signal (or PendingTTL, after
// which it deletes the unfinished upload), then runs the processing activity:
// verify size and type, decode within limits, strip metadata, write the
// variants and mark the item READY — or FAILED with the reason when the
// content is refused. Every step is idempotent (conditional status
// transitions, variant keys derived from their bytes), so a retried activity
// or a worker killed mid-run converges on the same result. Transient storage
// errors are retried with backoff; when retries run out the item is FAILED.
// The history is a handful of events: one workflow per upload, no
// continue-as-new needed.
func MediaPipeline(ctx workflow.Context, in *MediaPipelineInput) (*MediaPipelineResult, error) {
	if in.PendingTTL <= 0 {
		in.PendingTTL = 24 * time.Hour
	}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	var a *activities.Media

	tctx, cancel := workflow.WithCancel(ctx)
	completed := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalUploadComplete), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		completed = true
	})
	sel.AddFuture(workflow.NewTimer(tctx, in.PendingTTL), func(workflow.Future) {})
	sel.Select(ctx)
	cancel()
	if !completed {
		if err := workflow.ExecuteActivity(short, a.ExpireUpload, in.MediaID).Get(ctx, nil); err != nil {
			return nil, err
		}
		return &MediaPipelineResult{Status: "expired"}, nil
	}

	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 8,
		},
	})
	var out activities.MediaOutcome
	err := workflow.ExecuteActivity(pctx, a.ProcessMedia, in.MediaID).Get(ctx, &out)
	if err != nil {
		var cancelled *temporal.CanceledError
		if errors.As(err, &cancelled) {
			return nil, err
		}
		// Retries ran out on a transient error: fail the item so the client
		// stops waiting, with a reason that says to try again.
		workflow.GetLogger(ctx).Error("media processing failed", "media", in.MediaID, "err", err)
		reason := "processing failed; please upload again"
		if err := workflow.ExecuteActivity(short, a.FailMedia, in.MediaID, reason).Get(ctx, nil); err != nil {
			return nil, err
		}
		return &MediaPipelineResult{Status: "failed", Reason: reason}, nil
	}
	if out.FailureReason != "" {
		return &MediaPipelineResult{Status: "failed", Reason: out.FailureReason}, nil
	}
	return &MediaPipelineResult{Status: "ready"}, nil
}

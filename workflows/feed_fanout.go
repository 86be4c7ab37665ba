package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
)

// Continue-as-new bounds of FeedFanout: carry at most maxCarry pending jobs
// (~200 bytes each) unless the history passes maxHistory events.
const (
	maxCarry   = 1000
	maxHistory = 20000
)

// FeedFanoutInput is a shard's state across continue-as-new: the jobs it
// had received but not yet run.
type FeedFanoutInput struct {
	Shard   int
	Pending []activities.FanoutJob
	// MaxBatch bounds the jobs one activity runs (default 500); RunLimit
	// the jobs one run handles before it continues as new (default 2,000).
	MaxBatch, RunLimit int
}

// FeedFanout is one fan-out shard: a long-running workflow fed by
// signal-with-start (SignalFanout, batches of jobs). Each round takes every
// job received so far — many posts per workflow task — and runs them in one
// activity (activities.Feed.FanOut) that pages followers 1,000 at a time,
// writes timelines in bulk and heartbeats its place. Rounds are sequential,
// so a shard keeps the order of its jobs (a post's delete follows its
// fan-out). After RunLimit jobs, or when Temporal suggests it, the shard
// continues as new with its pending jobs, which bounds its history.
func FeedFanout(ctx workflow.Context, in *FeedFanoutInput) error {
	if in.MaxBatch <= 0 {
		in.MaxBatch = 500
	}
	if in.RunLimit <= 0 {
		in.RunLimit = 2000
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    10 * time.Second, // a page write takes well under a second
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})
	signals := workflow.GetSignalChannel(ctx, SignalFanout)
	pending := in.Pending
	drain := func() {
		for {
			var jobs []activities.FanoutJob
			if !signals.ReceiveAsync(&jobs) {
				return
			}
			pending = append(pending, jobs...)
		}
	}
	var a *activities.Feed
	done := 0
	for {
		drain()
		if len(pending) == 0 {
			if done >= in.RunLimit || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				return workflow.NewContinueAsNewError(ctx, FeedFanout, &FeedFanoutInput{Shard: in.Shard, MaxBatch: in.MaxBatch, RunLimit: in.RunLimit})
			}
			var jobs []activities.FanoutJob
			signals.Receive(ctx, &jobs)
			pending = append(pending, jobs...)
			continue
		}
		n := min(len(pending), in.MaxBatch)
		batch := pending[:n]
		if err := workflow.ExecuteActivity(ctx, a.FanOut, batch).Get(ctx, nil); err != nil {
			// Retries are unlimited; an error here means the activity was
			// cancelled with the workflow. Keep the jobs for the next run.
			return err
		}
		pending = append([]activities.FanoutJob(nil), pending[n:]...)
		done += n
		// Continue as new once the run did its share — but not while a large
		// backlog would have to travel in the new run's input (a payload
		// that must stay well under Temporal's size limit), unless the
		// history itself grows too long.
		info := workflow.GetInfo(ctx)
		if (done >= in.RunLimit || info.GetContinueAsNewSuggested()) && (len(pending) <= maxCarry || info.GetCurrentHistoryLength() > maxHistory) {
			drain()
			return workflow.NewContinueAsNewError(ctx, FeedFanout, &FeedFanoutInput{Shard: in.Shard, Pending: pending, MaxBatch: in.MaxBatch, RunLimit: in.RunLimit})
		}
	}
}

package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
)

func jobs(from, n int) []activities.FanoutJob {
	out := make([]activities.FanoutJob, n)
	for i := range out {
		out[i] = activities.FanoutJob{Kind: activities.JobPost, PostID: fmt.Sprintf("p%03d", from+i)}
	}
	return out
}

// TestFeedFanoutBatchesInOrderAndContinuesAsNew: a shard first runs what
// it carried over, then the signalled jobs in arrival order, at most
// MaxBatch a round; after RunLimit jobs it continues as new carrying what
// it has not run.
func TestFeedFanoutBatchesInOrderAndContinuesAsNew(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var mu sync.Mutex
	var rounds [][]string
	var a *activities.Feed
	env.RegisterActivity(a)
	env.OnActivity(a.FanOut, mock.Anything, mock.Anything).Return(func(_ context.Context, batch []activities.FanoutJob) error {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for _, j := range batch {
			ids = append(ids, j.PostID)
		}
		rounds = append(rounds, ids)
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalFanout, jobs(1, 8)) }, time.Second)
	env.ExecuteWorkflow(FeedFanout, &FeedFanoutInput{Shard: 3, Pending: jobs(0, 1), MaxBatch: 4, RunLimit: 6})

	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next FeedFanoutInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rounds)
	if got != "[[p000] [p001 p002 p003 p004] [p005 p006 p007 p008]]" {
		t.Errorf("rounds = %s, want the carried job, then the signal in rounds of at most 4", got)
	}
	if next.Shard != 3 || len(next.Pending) != 0 || next.MaxBatch != 4 {
		t.Errorf("continue-as-new input = %+v, want shard 3, nothing pending", next)
	}
}

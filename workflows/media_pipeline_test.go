package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ejazz/ejazz/activities"
)

func newMediaEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *activities.Media) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	var a *activities.Media
	env.RegisterActivity(a)
	return env, a
}

func TestMediaPipelineProcessesAfterCompleteSignal(t *testing.T) {
	env, a := newMediaEnv(t)
	processed := 0
	env.OnActivity(a.ProcessMedia, mock.Anything, "m1").Return(func(context.Context, string) (activities.MediaOutcome, error) {
		processed++
		return activities.MediaOutcome{}, nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalUploadComplete, nil) }, 10*time.Minute)
	// A second CompleteUpload (another signal) changes nothing.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalUploadComplete, nil) }, 11*time.Minute)
	env.ExecuteWorkflow(MediaPipeline, &MediaPipelineInput{MediaID: "m1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res MediaPipelineResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "ready", res.Status)
	require.Equal(t, 1, processed)
}

func TestMediaPipelineReportsRejectedContent(t *testing.T) {
	env, a := newMediaEnv(t)
	env.OnActivity(a.ProcessMedia, mock.Anything, "m1").Return(activities.MediaOutcome{FailureReason: "corrupt or truncated image"}, nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalUploadComplete, nil) }, time.Second)
	env.ExecuteWorkflow(MediaPipeline, &MediaPipelineInput{MediaID: "m1"})
	var res MediaPipelineResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, MediaPipelineResult{Status: "failed", Reason: "corrupt or truncated image"}, res)
}

func TestMediaPipelineRetriesTransientErrorsThenFails(t *testing.T) {
	env, a := newMediaEnv(t)
	attempts := 0
	env.OnActivity(a.ProcessMedia, mock.Anything, "m1").Return(func(context.Context, string) (activities.MediaOutcome, error) {
		attempts++
		return activities.MediaOutcome{}, errors.New("s3: connection refused")
	})
	var failedWith string
	env.OnActivity(a.FailMedia, mock.Anything, "m1", mock.Anything).Return(func(_ context.Context, _ string, reason string) error {
		failedWith = reason
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalUploadComplete, nil) }, time.Second)
	env.ExecuteWorkflow(MediaPipeline, &MediaPipelineInput{MediaID: "m1"})
	var res MediaPipelineResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "failed", res.Status)
	require.Equal(t, 8, attempts, "retried with backoff up to the policy's attempts")
	require.NotEmpty(t, failedWith)
}

func TestMediaPipelineRecoversAfterATransientError(t *testing.T) {
	env, a := newMediaEnv(t)
	attempts := 0
	env.OnActivity(a.ProcessMedia, mock.Anything, "m1").Return(func(context.Context, string) (activities.MediaOutcome, error) {
		attempts++
		if attempts < 3 {
			return activities.MediaOutcome{}, temporal.NewApplicationError("storage unavailable", "transient")
		}
		return activities.MediaOutcome{}, nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalUploadComplete, nil) }, time.Second)
	env.ExecuteWorkflow(MediaPipeline, &MediaPipelineInput{MediaID: "m1"})
	var res MediaPipelineResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "ready", res.Status)
	require.Equal(t, 3, attempts)
}

func TestMediaPipelineExpiresUnfinishedUploads(t *testing.T) {
	env, a := newMediaEnv(t)
	expired := ""
	env.OnActivity(a.ExpireUpload, mock.Anything, mock.Anything).Return(func(_ context.Context, id string) error {
		expired = id
		return nil
	})
	start := env.Now()
	env.ExecuteWorkflow(MediaPipeline, &MediaPipelineInput{MediaID: "m1"})
	var res MediaPipelineResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "expired", res.Status)
	require.Equal(t, "m1", expired)
	require.GreaterOrEqual(t, env.Now().Sub(start), 24*time.Hour, "waits the default 24 h before cleaning up")
}

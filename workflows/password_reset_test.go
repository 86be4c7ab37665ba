package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/ejazz/ejazz/activities"
)

type resetEnv struct {
	env     *testsuite.TestWorkflowEnvironment
	sends   []time.Time
	expired int
}

func newResetEnv(t *testing.T, accountExists bool) *resetEnv {
	var ts testsuite.WorkflowTestSuite
	r := &resetEnv{env: ts.NewTestWorkflowEnvironment()}
	var a *activities.Accounts
	r.env.RegisterActivity(a)
	r.env.OnActivity(a.SendPasswordReset, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, expiresAt time.Time) (bool, error) {
			if accountExists {
				r.sends = append(r.sends, expiresAt)
			}
			return accountExists, nil
		})
	r.env.OnActivity(a.ExpireResetTokens, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error { r.expired++; return nil })
	return r
}

func (r *resetEnv) signal(name string, after time.Duration) {
	r.env.RegisterDelayedCallback(func() { r.env.SignalWorkflow(name, nil) }, after)
}

func (r *resetEnv) run(t *testing.T) *PasswordResetResult {
	t.Helper()
	r.env.ExecuteWorkflow(PasswordReset, &PasswordResetInput{Email: "ana@example.com"})
	require.True(t, r.env.IsWorkflowCompleted())
	require.NoError(t, r.env.GetWorkflowError())
	var res PasswordResetResult
	require.NoError(t, r.env.GetWorkflowResult(&res))
	return &res
}

func TestPasswordResetDone(t *testing.T) {
	r := newResetEnv(t, true)
	start := r.env.Now()
	r.signal(SignalResetRequested, 0)
	r.signal(SignalResetDone, 10*time.Minute)
	res := r.run(t)
	require.Equal(t, "reset", res.Status)
	require.Len(t, r.sends, 1)
	require.WithinDuration(t, start.Add(time.Hour), r.sends[0], time.Second, "tokens live one hour")
	require.Zero(t, r.expired)
}

func TestPasswordResetExpiresAndCapsMails(t *testing.T) {
	r := newResetEnv(t, true)
	for i := range 5 {
		r.signal(SignalResetRequested, time.Duration(i)*time.Minute)
	}
	res := r.run(t)
	require.Equal(t, "expired", res.Status)
	require.Len(t, r.sends, 3, "at most three mails per reset")
	require.Equal(t, 1, r.expired)
}

func TestPasswordResetUnknownAddressSendsNothing(t *testing.T) {
	r := newResetEnv(t, false)
	r.signal(SignalResetRequested, 0)
	r.signal(SignalResetRequested, time.Minute)
	res := r.run(t)
	require.Equal(t, "no-account", res.Status)
	require.Empty(t, r.sends)
	require.Zero(t, r.expired)
}

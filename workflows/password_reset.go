package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
)

// PasswordResetInput names the address a reset was requested for.
type PasswordResetInput struct {
	Email string // normalized
	// TokenTTL is each reset token's lifetime (default 1 h).
	TokenTTL time.Duration
	// MaxMails bounds mails per workflow run (default 3), so the request
	// endpoint cannot be used to flood an inbox.
	MaxMails int
}

// PasswordResetResult is how the reset ended: "reset", "expired" or
// "no-account" (nothing was sent: the caller saw the same answer anyway).
type PasswordResetResult struct {
	Status string
	Mails  int
}

// PasswordReset mails a single-use reset token (valid TokenTTL) for every
// reset-requested signal, up to MaxMails, and ends when the password was
// reset or TokenTTL passed since the last request; on expiry it deletes the
// account's unused reset tokens.
func PasswordReset(ctx workflow.Context, in *PasswordResetInput) (*PasswordResetResult, error) {
	if in.TokenTTL <= 0 {
		in.TokenTTL = time.Hour
	}
	if in.MaxMails <= 0 {
		in.MaxMails = 3
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var a *activities.Accounts
	requested := workflow.GetSignalChannel(ctx, SignalResetRequested)
	done := workflow.GetSignalChannel(ctx, SignalResetDone)
	res := &PasswordResetResult{}
	exists := true
	for {
		tctx, cancel := workflow.WithCancel(ctx)
		var got string
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(requested, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); got = "request" })
		sel.AddReceive(done, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); got = "done" })
		sel.AddFuture(workflow.NewTimer(tctx, in.TokenTTL), func(workflow.Future) { got = "timeout" })
		sel.Select(ctx)
		cancel()
		switch got {
		case "done":
			// A request that arrived with the reset still gets its mail.
			if !requested.ReceiveAsync(nil) {
				res.Status = "reset"
				return res, nil
			}
			res.Mails = 0
		case "timeout":
			if res.Mails == 0 {
				res.Status = "no-account"
				return res, nil
			}
			if err := workflow.ExecuteActivity(ctx, a.ExpireResetTokens, in.Email).Get(ctx, nil); err != nil {
				return nil, err
			}
			res.Status = "expired"
			return res, nil
		}
		if !exists || res.Mails >= in.MaxMails {
			continue // same answer to the caller, no mail
		}
		expiresAt := workflow.Now(ctx).Add(in.TokenTTL)
		if err := workflow.ExecuteActivity(ctx, a.SendPasswordReset, in.Email, expiresAt).Get(ctx, &exists); err != nil {
			return nil, err
		}
		if exists {
			res.Mails++
		}
	}
}

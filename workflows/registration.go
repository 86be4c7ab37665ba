package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
)

// RegistrationInput is a validated sign-up. The password arrives already
// hashed (argon2id): no secret ever enters workflow history.
type RegistrationInput struct {
	UserID       string
	Email        string // normalized
	Handle       string
	DisplayName  string
	PasswordHash string
	// ReminderAfter and ExpireAfter default to 24 h and 7 days.
	ReminderAfter time.Duration
	ExpireAfter   time.Duration
}

// RegistrationOutcome answers the register update: the user id, or the field
// that is taken.
type RegistrationOutcome struct {
	UserID     string
	TakenField string // "email" or "handle" when the account could not be created
}

// RegistrationResult is how the registration ended.
type RegistrationResult struct {
	UserID string
	// Status is "taken", "verified" or "expired".
	Status string
}

// Registration creates the account and profile (a saga: the profile failing
// removes the account), mails a verification token, waits for the
// email-verified signal with a reminder mail after ReminderAfter, and on
// expiry removes the unverified account so its handle and email are free
// again. Its ID comes from the normalized email (RegistrationWorkflowID), and
// the register update returns the same user to every submit of that email.
func Registration(ctx workflow.Context, in *RegistrationInput) (*RegistrationResult, error) {
	if in.ReminderAfter <= 0 {
		in.ReminderAfter = 24 * time.Hour
	}
	if in.ExpireAfter <= 0 {
		in.ExpireAfter = 7 * 24 * time.Hour
	}
	var (
		outcome RegistrationOutcome
		settled bool
	)
	if err := workflow.SetUpdateHandler(ctx, UpdateRegister, func(ctx workflow.Context) (*RegistrationOutcome, error) {
		if err := workflow.Await(ctx, func() bool { return settled }); err != nil {
			return nil, err
		}
		return &outcome, nil
	}); err != nil {
		return nil, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchUserID.ValueSet(in.UserID))

	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second,
			MaximumInterval: time.Minute,
		},
	})
	var a *activities.Accounts
	var created activities.CreateAccountResult
	err := workflow.ExecuteActivity(ctx, a.CreateAccount, activities.CreateAccountInput{
		UserID: in.UserID, Email: in.Email, Handle: in.Handle, DisplayName: in.DisplayName, PasswordHash: in.PasswordHash,
	}).Get(ctx, &created)
	if err != nil {
		return nil, err
	}
	outcome = RegistrationOutcome{UserID: created.UserID, TakenField: created.TakenField}
	settled = true
	if created.TakenField != "" {
		return finish(ctx, &RegistrationResult{UserID: in.UserID, Status: "taken"})
	}

	expiresAt := workflow.Now(ctx).Add(in.ExpireAfter)
	send := func(reminder bool) error {
		return workflow.ExecuteActivity(ctx, a.SendVerification, activities.SendVerificationInput{
			UserID: in.UserID, Email: in.Email, Handle: in.Handle, ExpiresAt: expiresAt, Reminder: reminder,
		}).Get(ctx, nil)
	}
	if err := send(false); err != nil {
		return nil, err
	}

	verified := workflow.GetSignalChannel(ctx, SignalEmailVerified)
	waitVerified := func(d time.Duration) (bool, error) {
		tctx, cancel := workflow.WithCancel(ctx)
		defer cancel()
		got := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(verified, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); got = true })
		sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
		sel.Select(ctx)
		return got, nil
	}
	if ok, _ := waitVerified(in.ReminderAfter); ok {
		return finish(ctx, &RegistrationResult{UserID: in.UserID, Status: "verified"})
	}
	if err := send(true); err != nil {
		return nil, err
	}
	if ok, _ := waitVerified(expiresAt.Sub(workflow.Now(ctx))); ok {
		return finish(ctx, &RegistrationResult{UserID: in.UserID, Status: "verified"})
	}
	var removed bool
	if err := workflow.ExecuteActivity(ctx, a.DeleteUnverified, in.UserID).Get(ctx, &removed); err != nil {
		return nil, err
	}
	if !removed { // verified at the last moment, before the signal arrived
		return finish(ctx, &RegistrationResult{UserID: in.UserID, Status: "verified"})
	}
	return finish(ctx, &RegistrationResult{UserID: in.UserID, Status: "expired"})
}

// finish lets in-flight update handlers complete before the workflow returns.
func finish(ctx workflow.Context, r *RegistrationResult) (*RegistrationResult, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	return r, nil
}

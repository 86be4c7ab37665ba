package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/notification"
)

// digestPagesPerRun bounds the pages one NotificationDigest run handles
// before it continues as new.
const digestPagesPerRun = 100

// NotificationDigestInput is one digest run: the users of Frequency, from
// the user ID After on, for the period starting at Period (zero: the run's
// start time). Sent carries the count across continue-as-new.
type NotificationDigestInput struct {
	Frequency notification.Frequency
	Period    time.Time
	After     string
	Sent      int
	// PageSize is how many users one activity handles (default 100).
	PageSize int
}

// NotificationDigestResult is how many digests a run sent.
type NotificationDigestResult struct {
	Sent int
}

// NotificationDigest mails the email digests of one frequency: it pages
// through the users who chose it and have email on for some kind, one
// activity per page (activities.Notifications.SendDigests), each user
// mailed the unread notifications of their email-enabled kinds since their
// previous digest. The Temporal schedules NotificationDigestScheduleID
// ("daily", "weekly") start it; an operator may trigger a schedule to run
// it at once. A retried page mails nobody twice (digests are claimed per
// period), and a run continues as new every 100 pages.
func NotificationDigest(ctx workflow.Context, in *NotificationDigestInput) (*NotificationDigestResult, error) {
	if in.Period.IsZero() {
		in.Period = workflow.Now(ctx).UTC().Truncate(time.Second)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    20,
		},
	})
	var a *activities.Notifications
	after, sent := in.After, in.Sent
	for page := 0; ; page++ {
		if page >= digestPagesPerRun {
			return nil, workflow.NewContinueAsNewError(ctx, NotificationDigest, &NotificationDigestInput{
				Frequency: in.Frequency, Period: in.Period, After: after, Sent: sent, PageSize: in.PageSize,
			})
		}
		var res activities.DigestPageResult
		err := workflow.ExecuteActivity(ctx, a.SendDigests, activities.DigestPageInput{
			Frequency: in.Frequency, After: after, Period: in.Period, Limit: in.PageSize,
		}).Get(ctx, &res)
		if err != nil {
			return nil, err
		}
		sent += res.Sent
		if res.Next == "" {
			return &NotificationDigestResult{Sent: sent}, nil
		}
		after = res.Next
	}
}

package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/notification"
)

// TestNotificationDigestPagesThroughUsers: the run pages with the cursor
// each page returns, keeps one period for all pages and sums what was sent.
func TestNotificationDigestPagesThroughUsers(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Notifications
	env.RegisterActivity(a)
	var pages []activities.DigestPageInput
	env.OnActivity(a.SendDigests, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DigestPageInput) (*activities.DigestPageResult, error) {
		pages = append(pages, in)
		switch in.After {
		case "":
			return &activities.DigestPageResult{Next: "u2", Sent: 2}, nil
		case "u2":
			return &activities.DigestPageResult{Next: "u4", Sent: 1}, nil
		}
		return &activities.DigestPageResult{Sent: 1}, nil
	})
	env.ExecuteWorkflow(NotificationDigest, &NotificationDigestInput{Frequency: notification.Weekly, PageSize: 2})
	var res NotificationDigestResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Sent != 4 || len(pages) != 3 {
		t.Fatalf("sent %d in %d pages, want 4 in 3", res.Sent, len(pages))
	}
	for i, p := range pages {
		if p.Frequency != notification.Weekly || p.Limit != 2 || p.Period.IsZero() || !p.Period.Equal(pages[0].Period) {
			t.Errorf("page %d input = %+v", i, p)
		}
	}
}

// TestNotificationDigestContinuesAsNew: a long run continues as new with
// its cursor, period and count.
func TestNotificationDigestContinuesAsNew(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Notifications
	env.RegisterActivity(a)
	n := 0
	env.OnActivity(a.SendDigests, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DigestPageInput) (*activities.DigestPageResult, error) {
		n++
		return &activities.DigestPageResult{Next: fmt.Sprintf("u%04d", n), Sent: 1}, nil
	})
	period := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(NotificationDigest, &NotificationDigestInput{Frequency: notification.Daily, Period: period})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next NotificationDigestInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.After != "u0100" || next.Sent != 100 || !next.Period.Equal(period) || next.Frequency != notification.Daily {
		t.Errorf("continue-as-new input = %+v", next)
	}
}

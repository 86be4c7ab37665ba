package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/testsuite"

	"github.com/ejazz/ejazz/activities"
)

type registrationSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env      *testsuite.TestWorkflowEnvironment
	sends    []activities.SendVerificationInput
	deletes  int
	outcome  *RegistrationOutcome
	taken    string
	verified bool // DeleteUnverified finds the account verified
}

func TestRegistration(t *testing.T) { suite.Run(t, new(registrationSuite)) }

func (s *registrationSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.sends, s.deletes, s.outcome, s.taken, s.verified = nil, 0, nil, "", false
	var a *activities.Accounts
	s.env.RegisterActivity(a)
	s.env.OnActivity(a.CreateAccount, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CreateAccountInput) (*activities.CreateAccountResult, error) {
			if s.taken != "" {
				return &activities.CreateAccountResult{TakenField: s.taken}, nil
			}
			return &activities.CreateAccountResult{UserID: in.UserID}, nil
		})
	s.env.OnActivity(a.SendVerification, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendVerificationInput) error {
			s.sends = append(s.sends, in)
			return nil
		})
	s.env.OnActivity(a.DeleteUnverified, mock.Anything, mock.Anything).Return(
		func(context.Context, string) (bool, error) {
			s.deletes++
			return !s.verified, nil
		})
	// A sign-up call waits on the register update from the start.
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdateRegister, "signup-1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { s.Fail("update rejected", err) },
			OnAccept:   func() {},
			OnComplete: func(v any, err error) { s.Require().NoError(err); s.outcome = v.(*RegistrationOutcome) },
		})
	}, 0)
}

func (s *registrationSuite) run() *RegistrationResult {
	s.env.ExecuteWorkflow(Registration, &RegistrationInput{UserID: "u1", Email: "ana@example.com", Handle: "ana", PasswordHash: "$argon2id$…"})
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res RegistrationResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	return &res
}

func (s *registrationSuite) TestVerifiedBeforeReminder() {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(SignalEmailVerified, nil) }, time.Hour)
	res := s.run()
	s.Equal("verified", res.Status)
	s.Equal(&RegistrationOutcome{UserID: "u1"}, s.outcome)
	s.Require().Len(s.sends, 1)
	s.False(s.sends[0].Reminder)
	s.Equal("ana@example.com", s.sends[0].Email)
	s.Zero(s.deletes)
}

func (s *registrationSuite) TestReminderThenVerified() {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(SignalEmailVerified, nil) }, 48*time.Hour)
	res := s.run()
	s.Equal("verified", res.Status)
	s.Require().Len(s.sends, 2)
	s.True(s.sends[1].Reminder, "the second mail after 24 h is a reminder")
	s.Equal(s.sends[0].ExpiresAt, s.sends[1].ExpiresAt, "the reminder does not extend the 7-day expiry")
	s.Zero(s.deletes)
}

func (s *registrationSuite) TestExpiresAfterSevenDays() {
	start := s.env.Now()
	res := s.run()
	s.Equal("expired", res.Status)
	s.Len(s.sends, 2)
	s.Equal(1, s.deletes)
	s.WithinDuration(start.Add(7*24*time.Hour), s.env.Now(), time.Minute)
	s.WithinDuration(start.Add(7*24*time.Hour), s.sends[0].ExpiresAt, time.Minute)
}

func (s *registrationSuite) TestVerifiedJustBeforeExpiry() {
	s.verified = true // the VerifyEmail call won the race against expiry
	res := s.run()
	s.Equal("verified", res.Status)
	s.Equal(1, s.deletes)
}

func (s *registrationSuite) TestTakenFieldIsReported() {
	s.taken = "handle"
	res := s.run()
	s.Equal("taken", res.Status)
	s.Equal(&RegistrationOutcome{TakenField: "handle"}, s.outcome)
	s.Empty(s.sends, "no mail for an account that was not created")
}

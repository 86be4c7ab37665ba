package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/testsuite"

	"github.com/ejazz/ejazz/activities"
)

type systemCheckSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
}

func TestSystemCheck(t *testing.T) { suite.Run(t, new(systemCheckSuite)) }

func (s *systemCheckSuite) run(probe func() (*activities.ProbeResult, error)) (*SystemCheckResult, error) {
	env := s.NewTestWorkflowEnvironment()
	var a *activities.System
	env.RegisterActivity(a)
	env.OnActivity(a.ProbeStores, mock.Anything).Return(func(context.Context) (*activities.ProbeResult, error) {
		return probe()
	})
	env.ExecuteWorkflow(SystemCheck, &SystemCheckInput{Requester: "test"})
	s.True(env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res SystemCheckResult
	s.NoError(env.GetWorkflowResult(&res))
	return &res, nil
}

func (s *systemCheckSuite) TestHealthy() {
	res, err := s.run(func() (*activities.ProbeResult, error) {
		return &activities.ProbeResult{Stores: map[string]string{"a/x": activities.ProbeOK, "b/y": activities.ProbeOK}, Healthy: true}, nil
	})
	s.Require().NoError(err)
	s.True(res.Healthy)
	s.Equal("test", res.Requester)
	s.Len(res.Stores, 2)
}

func (s *systemCheckSuite) TestUnhealthyStoreIsReported() {
	res, err := s.run(func() (*activities.ProbeResult, error) {
		return &activities.ProbeResult{Stores: map[string]string{"a/x": activities.ProbeOK, "b/y": "connection refused"}, Healthy: false}, nil
	})
	s.Require().NoError(err)
	s.False(res.Healthy)
	s.Equal("connection refused", res.Stores["b/y"])
}

func (s *systemCheckSuite) TestActivityRetriedThenFails() {
	attempts := 0
	_, err := s.run(func() (*activities.ProbeResult, error) {
		attempts++
		return nil, errors.New("worker lost its stores")
	})
	s.Error(err)
	s.Equal(3, attempts, "the retry policy allows three attempts")
}

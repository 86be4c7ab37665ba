package activities

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/ejazz/ejazz/internal/storage"
)

type fakeStore struct {
	storage.Component
	err error
}

func (f *fakeStore) Ping(context.Context) error { return f.err }

func TestProbeStores(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(&System{Stores: []storage.Store{
		&fakeStore{Component: storage.Component{ID: "b", EngineName: "x"}},
		&fakeStore{Component: storage.Component{ID: "a", EngineName: "y"}, err: errors.New("down")},
	}})
	var s *System
	val, err := env.ExecuteActivity(s.ProbeStores)
	if err != nil {
		t.Fatal(err)
	}
	var res ProbeResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Stores["b/x"] != ProbeOK || res.Stores["a/y"] != "down" || len(res.Stores) != 2 || res.Healthy {
		t.Fatalf("ProbeStores = %v", res.Stores)
	}
}

package cassandra_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/timeline"
	"github.com/ejazz/ejazz/internal/timeline/cassandra"
)

func TestConformance(t *testing.T) {
	storetest.TimelineStore(t, func(t *testing.T) timeline.Store { return cassandra.New(storetest.Cassandra(t)) })
}

package neo4j_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/graph/neo4j"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.GraphStore(t, func(t *testing.T) graph.Store { return neo4j.New(storetest.Neo4j(t)) })
}

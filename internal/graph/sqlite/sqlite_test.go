package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.GraphStore(t, func(t *testing.T) graph.Store { return sqlite.New(storetest.SQLite(t)) })
}

package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/timeline"
	"github.com/ejazz/ejazz/internal/timeline/sqlite"
)

func TestConformance(t *testing.T) {
	storetest.TimelineStore(t, func(t *testing.T) timeline.Store { return sqlite.New(storetest.SQLite(t)) })
}

package sqlite_test

import (
	"testing"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.AnalyticsStore(t, func(t *testing.T) analytics.Store { return sqlite.New(storetest.SQLite(t)) })
}

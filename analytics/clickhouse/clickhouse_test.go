package clickhouse_test

import (
	"testing"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/clickhouse"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.AnalyticsStore(t, func(t *testing.T) analytics.Store { return clickhouse.New(storetest.ClickHouse(t)) })
}

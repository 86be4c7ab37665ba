package clickhouse_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ejazz/ejazz/analytics/clickhouse"
	"github.com/ejazz/ejazz/internal/storetest"
)

// TestGrafanaDashboardQueries runs every query of the provisioned Grafana
// dashboard (dev/grafana) on this ClickHouse, over the suite's known events,
// with Grafana's macros and variables filled in.
func TestGrafanaDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile("../../dev/grafana/dashboards/ejazz-analytics.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawSQL string `json:"rawSql"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	db := storetest.ClickHouse(t)
	s := clickhouse.New(db)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, storetest.AnalyticsEvents()); err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("$__fromTime", "toDateTime('2026-03-01 00:00:00')", "$__toTime", "toDateTime('2026-04-01 00:00:00')",
		"${post_id}", "p1", "${user_id}", "u1", "ejazz.", db.Database+".")
	if len(dash.Panels) < 5 {
		t.Fatalf("dashboard has %d panels, want the five views", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			rows, err := db.Conn.Query(ctx, r.Replace(tg.RawSQL))
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
			}
			rows.Close()
			if n == 0 && !strings.Contains(p.Title, "Trending") && !strings.Contains(p.Title, "Top posts") {
				t.Errorf("panel %q returned no rows over the known events", p.Title)
			}
		}
	}
}

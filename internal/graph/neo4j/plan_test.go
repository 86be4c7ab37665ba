package neo4j

import (
	"context"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	engine "github.com/ejazz/ejazz/internal/engine/neo4j"
	"github.com/ejazz/ejazz/internal/storetest"
)

// operators returns the operator names of a profiled plan, root first, each
// as "Name" plus its provided order when it has one ("Name[order]").
func operators(p neo4j.ProfiledPlan) []string {
	name, _, _ := strings.Cut(p.Operator(), "@")
	if o, ok := p.Arguments()["Order"].(string); ok {
		name += "[" + o + "]"
	}
	out := []string{name}
	for _, c := range p.Children() {
		out = append(out, operators(c)...)
	}
	return out
}

// profile runs query under PROFILE and returns its plan's operators.
func profile(ctx context.Context, t testing.TB, db *engine.DB, query string, params map[string]any) []string {
	t.Helper()
	res, err := neo4j.ExecuteQuery(ctx, db.Driver, "PROFILE "+query, params, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase(db.Database), neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		t.Fatalf("PROFILE: %v", err)
	}
	p := res.Summary.Profile()
	if p == nil {
		t.Fatal("PROFILE returned no plan")
	}
	return operators(p)
}

// TestPagePlans checks that every list is one relationship index range seek
// read in descending index order: no Sort, no Expand, no scan.
func TestPagePlans(t *testing.T) {
	db := storetest.Neo4j(t)
	ctx := context.Background()
	if err := New(db).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for typ, k := range keyed {
		for prop, ok := range map[string]bool{"ik": k.in, "ok": k.out} {
			if !ok {
				continue
			}
			ops := profile(ctx, t, db, listQuery(typ, prop), map[string]any{"lo": keyPrefix("u"), "hi": keyEnd("u"), "skip": 2, "n": 11})
			plan := strings.Join(ops, " <- ")
			if !strings.Contains(plan, "DirectedRelationshipIndexSeekByRange[r."+prop+" DESC]") {
				t.Errorf("%s.%s: plan %s has no descending relationship index seek", typ, prop, plan)
			}
			for _, bad := range []string{"Sort", "Top", "Expand", "Scan"} {
				if strings.Contains(plan, bad) {
					t.Errorf("%s.%s: plan %s has a %s", typ, prop, plan, bad)
				}
			}
		}
	}
}

// TestScanPlan checks that a ScanFollows page is an ascending range seek of
// follows_ok with no sort.
func TestScanPlan(t *testing.T) {
	db := storetest.Neo4j(t)
	ctx := context.Background()
	if err := New(db).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(profile(ctx, t, db, scanFollowsQuery, map[string]any{"after": keyPrefix("u"), "n": 11}), " <- ")
	if !strings.Contains(plan, "DirectedRelationshipIndexSeekByRange[r.ok ASC]") {
		t.Errorf("plan %s has no ascending relationship index seek", plan)
	}
	for _, bad := range []string{"Sort", "Top", "Scan"} {
		if strings.Contains(plan, bad) {
			t.Errorf("plan %s has a %s", plan, bad)
		}
	}
}

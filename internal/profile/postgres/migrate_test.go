package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
)

// Profiles written before the search migration are found after it.
func TestSearchMigrationIndexesExistingProfiles(t *testing.T) {
	ctx := context.Background()
	db := storetest.Postgres(t)
	if _, err := storage.Migrate(ctx, db, "profiles", migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO profiles (user_id, handle, display_name) VALUES
		('u1', 'alice', 'Alice Liddell'), ('u2', 'bob', 'Bob Alison')`); err != nil {
		t.Fatal(err)
	}
	s := New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{"liddel": {"alice"}, "bob al": {"bob"}, "ali": {"alice", "bob"}} {
		ps, _, err := s.Search(ctx, q, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.Handle)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Search(%q) = %v, want %v", q, got, want)
		}
	}
}

package cassandra_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/timeline"
	"github.com/ejazz/ejazz/internal/timeline/cassandra"
)

// Cases the conformance suite leaves to the adapter: keys that tie on at
// (the cursor and Trim bound the whole clustering tuple), sub-millisecond
// times, fan-outs wider than the in-flight bound, Trim(0), cancellation and
// the table's TTL.
func TestAdapter(t *testing.T) {
	db := storetest.Cassandra(t)
	s := cassandra.New(db)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	keys := func(es []timeline.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d/%s/%s", e.At.UnixMilli()-base.UnixMilli(), e.PostID, e.RepostedBy))
		}
		return out
	}
	all := func(t *testing.T, owner string, limit int) []timeline.Entry {
		t.Helper()
		var out []timeline.Entry
		cursor := ""
		for range 1000 {
			es, next, err := s.Page(ctx, owner, cursor, limit)
			if err != nil || len(es) > limit {
				t.Fatalf("Page = %d entries, %v", len(es), err)
			}
			out = append(out, es...)
			if next == "" {
				return out
			}
			cursor = next
		}
		t.Fatal("no last page")
		return nil
	}

	t.Run("ties on at", func(t *testing.T) {
		o := storetest.UniqueName("o")
		// 3 instants × 3 posts × (the post and 2 reposts) = 27 entries.
		var want []timeline.Entry
		for ms := range 3 {
			for _, p := range []string{"pa", "pb", "pc"} {
				for _, r := range []string{"", "u1", "u2"} {
					e := timeline.Entry{PostID: p, AuthorID: "ann", RepostedBy: r, At: base.Add(time.Duration(ms) * time.Millisecond)}
					if err := s.Add(ctx, []string{o}, e); err != nil {
						t.Fatal(err)
					}
					want = append(want, e)
				}
			}
		}
		slices.SortFunc(want, func(a, b timeline.Entry) int {
			if timeline.Before(a, b) {
				return 1
			}
			return -1
		})
		for _, limit := range []int{1, 2, 4, 27, 30} {
			if got := keys(all(t, o, limit)); !slices.Equal(got, keys(want)) {
				t.Errorf("pages of %d =\n%v\nwant\n%v", limit, got, keys(want))
			}
		}
		for _, keep := range []int{26, 20, 13, 5, 1} {
			if err := s.Trim(ctx, o, keep); err != nil {
				t.Fatal(err)
			}
			if got := keys(all(t, o, 7)); !slices.Equal(got, keys(want[:keep])) {
				t.Errorf("after Trim(%d) =\n%v\nwant\n%v", keep, got, keys(want[:keep]))
			}
		}
		if err := s.Trim(ctx, o, 0); err != nil {
			t.Fatal(err)
		}
		if got := all(t, o, 5); len(got) != 0 {
			t.Errorf("after Trim(0) = %v", keys(got))
		}
		if err := s.Trim(ctx, o, -1); err == nil {
			t.Error("Trim(-1) succeeded")
		}
	})

	t.Run("times are kept to the millisecond", func(t *testing.T) {
		o := storetest.UniqueName("o")
		e := timeline.Entry{PostID: "p1", AuthorID: "ann", At: base.Add(1500 * time.Microsecond)}
		if err := s.Add(ctx, []string{o}, e); err != nil {
			t.Fatal(err)
		}
		es, _, err := s.Page(ctx, o, "", 5)
		if err != nil || len(es) != 1 || !es[0].At.Equal(base.Add(time.Millisecond)) || es[0].At.Location() != time.UTC {
			t.Fatalf("Page = %+v, %v; want the entry at +1ms UTC", es, err)
		}
		if err := s.Remove(ctx, []string{o}, e); err != nil {
			t.Fatal(err)
		}
		if got := all(t, o, 5); len(got) != 0 {
			t.Errorf("Remove with the sub-millisecond time left %v", keys(got))
		}
	})

	t.Run("wide fan-out", func(t *testing.T) {
		owners := make([]string, 300)
		for i := range owners {
			owners[i] = storetest.UniqueName("o")
		}
		e := timeline.Entry{PostID: "p1", AuthorID: "ann", At: base}
		for range 2 {
			if err := s.Add(ctx, owners, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, o := range owners {
			if got := keys(all(t, o, 5)); len(got) != 1 {
				t.Fatalf("owner %s has %v", o, got)
			}
		}
		if err := s.Remove(ctx, owners, e); err != nil {
			t.Fatal(err)
		}
		for _, o := range owners {
			if got := all(t, o, 5); len(got) != 0 {
				t.Fatalf("owner %s kept %v", o, keys(got))
			}
		}
		if err := s.Add(ctx, []string{"a", ""}, e); err == nil {
			t.Error("Add to an empty owner ID succeeded")
		}
		done, stop := context.WithCancel(ctx)
		stop()
		if err := s.Add(done, owners, e); err == nil {
			t.Error("Add with a cancelled context succeeded")
		}
	})

	t.Run("limits and TTL", func(t *testing.T) {
		if _, _, err := s.Page(ctx, "o", "", 0); err == nil {
			t.Error("Page with limit 0 succeeded")
		}
		var ttl int
		if err := db.Session.Query(`SELECT default_time_to_live FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`,
			db.Keyspace, "timeline_entries").WithContext(ctx).Scan(&ttl); err != nil || ttl != 30*24*3600 {
			t.Errorf("default_time_to_live = %d, %v; want 30 days", ttl, err)
		}
	})
}

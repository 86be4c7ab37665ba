package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

// TimelineStore is the conformance suite of the timeline port: idempotent
// fan-out writes (also concurrent), newest-first keyset pages, removal of
// one entry, of an author's entries (including their reposts), and trimming.
func TimelineStore(t *testing.T, open func(t *testing.T) timeline.Store) {
	Lifecycle(t, timeline.Component, func(t *testing.T) storage.Store { return open(t) })

	base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	entry := func(n int, author, reposter string) timeline.Entry {
		return timeline.Entry{PostID: fmt.Sprintf("p%04d", n), AuthorID: author, RepostedBy: reposter, At: base.Add(time.Duration(n) * time.Millisecond)}
	}
	all := func(t *testing.T, s timeline.Store, owner string, limit int) []string {
		t.Helper()
		var out []string
		cursor := ""
		for i := 0; ; i++ {
			es, next, err := s.Page(ctx(t), owner, cursor, limit)
			if err != nil {
				t.Fatalf("Page: %v", err)
			}
			if len(es) > limit || i > 1000 {
				t.Fatalf("page of %d (limit %d) / no end", len(es), limit)
			}
			for _, e := range es {
				s := e.PostID + "/" + e.AuthorID
				if e.RepostedBy != "" {
					s += "/rt:" + e.RepostedBy
				}
				out = append(out, s)
			}
			if next == "" {
				return out
			}
			cursor = next
		}
	}
	eq := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s =\n%v\nwant\n%v", what, got, want)
		}
	}

	t.Run("fan-out writes are idempotent and pages are newest first", func(t *testing.T) {
		s, c := migrated(t, open)
		a, b := UniqueName("o"), UniqueName("o")
		var wg sync.WaitGroup
		for n := 1; n <= 5; n++ {
			for try := 0; try < 3; try++ { // every write retried, concurrently
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.Add(c, []string{a, b}, entry(n, "ann", "")); err != nil {
						t.Errorf("Add: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		// A repost of p0002 by bob, later than everything.
		rt := entry(2, "ann", "bob")
		rt.At = base.Add(time.Second)
		if err := s.Add(c, []string{a}, rt); err != nil {
			t.Fatal(err)
		}
		want := []string{"p0002/ann/rt:bob", "p0005/ann", "p0004/ann", "p0003/ann", "p0002/ann", "p0001/ann"}
		eq(t, "a, 2 a page", all(t, s, a, 2), want)
		eq(t, "a, one page", all(t, s, a, 10), want)
		eq(t, "b", all(t, s, b, 4), want[1:])
		es, _, err := s.Page(c, a, "", 1)
		if err != nil || len(es) != 1 || !es[0].At.Equal(rt.At) || es[0].AuthorID != "ann" || es[0].RepostedBy != "bob" {
			t.Errorf("first entry = %+v, %v; want the repost with its time", es, err)
		}
		if es, next, err := s.Page(c, UniqueName("nobody"), "", 10); err != nil || len(es) != 0 || next != "" {
			t.Errorf("empty timeline = %v, %q, %v", es, next, err)
		}
		for _, bad := range []string{"%%", "eHl6", "MTIzAHA"} {
			if _, _, err := s.Page(c, a, bad, 10); !errors.Is(err, timeline.ErrBadCursor) {
				t.Errorf("Page(cursor %q) = %v, want ErrBadCursor", bad, err)
			}
		}
	})

	t.Run("add many", func(t *testing.T) {
		s, c := migrated(t, open)
		a, b := UniqueName("o"), UniqueName("o")
		ws := []timeline.Write{
			{Owners: []string{a, b}, Entry: entry(1, "ann", "")},
			{Owners: []string{a}, Entry: entry(2, "bob", "")},
			{Owners: nil, Entry: entry(3, "cat", "")},
			{Owners: []string{b}, Entry: entry(1, "ann", "")}, // again: no duplicate
		}
		for i := 0; i < 2; i++ {
			if err := s.AddMany(c, ws); err != nil {
				t.Fatalf("AddMany: %v", err)
			}
		}
		eq(t, "a", all(t, s, a, 10), []string{"p0002/bob", "p0001/ann"})
		eq(t, "b", all(t, s, b, 10), []string{"p0001/ann"})
	})

	t.Run("cursor is stable under inserts", func(t *testing.T) {
		s, c := migrated(t, open)
		o := UniqueName("o")
		for n := 1; n <= 6; n++ {
			if err := s.Add(c, []string{o}, entry(n, "ann", "")); err != nil {
				t.Fatal(err)
			}
		}
		first, cursor, err := s.Page(c, o, "", 3)
		if err != nil || len(first) != 3 || cursor == "" {
			t.Fatalf("first page = %v, %q, %v", first, cursor, err)
		}
		if err := s.Add(c, []string{o}, entry(9, "ann", "")); err != nil { // newer, lands before the cursor
			t.Fatal(err)
		}
		rest, next, err := s.Page(c, o, cursor, 10)
		if err != nil || next != "" || len(rest) != 3 || rest[0].PostID != "p0003" {
			t.Errorf("second page = %+v, %q, %v; want p0003..p0001", rest, next, err)
		}
	})

	t.Run("remove entries and authors", func(t *testing.T) {
		s, c := migrated(t, open)
		o, o2 := UniqueName("o"), UniqueName("o")
		for n, author := range []string{"ann", "bob", "ann", "cat"} {
			if err := s.Add(c, []string{o, o2}, entry(n+1, author, "")); err != nil {
				t.Fatal(err)
			}
		}
		rt := entry(4, "cat", "ann") // ann reposted cat's post
		rt.At = base.Add(time.Second)
		if err := s.Add(c, []string{o}, rt); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(c, []string{o, o2}, entry(2, "bob", "")); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if err := s.Remove(c, []string{o}, entry(2, "bob", "")); err != nil {
			t.Fatalf("Remove again: %v", err)
		}
		eq(t, "o2 after removing bob's post", all(t, s, o2, 10), []string{"p0004/cat", "p0003/ann", "p0001/ann"})
		n, err := s.RemoveAuthor(c, o, "ann")
		if err != nil || n != 3 {
			t.Errorf("RemoveAuthor = %d, %v; want 3 (two posts and a repost)", n, err)
		}
		eq(t, "o after unfollowing ann", all(t, s, o, 10), []string{"p0004/cat"})
		eq(t, "o2 untouched", all(t, s, o2, 10), []string{"p0004/cat", "p0003/ann", "p0001/ann"})
	})

	t.Run("trim keeps the newest", func(t *testing.T) {
		s, c := migrated(t, open)
		o := UniqueName("o")
		for n := 1; n <= 30; n++ {
			if err := s.Add(c, []string{o}, entry(n, "ann", "")); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Trim(c, o, 10); err != nil {
			t.Fatalf("Trim: %v", err)
		}
		got := all(t, s, o, 7)
		if len(got) != 10 || got[0] != "p0030/ann" || got[9] != "p0021/ann" {
			t.Errorf("after Trim(10) = %v", got)
		}
		if err := s.Trim(c, o, 50); err != nil {
			t.Fatal(err)
		}
		if got := all(t, s, o, 100); len(got) != 10 {
			t.Errorf("Trim above the length removed entries: %d left", len(got))
		}
		if err := s.Trim(c, o, 0); err != nil {
			t.Fatal(err)
		}
		if got := all(t, s, o, 100); len(got) != 0 {
			t.Errorf("Trim(0) left %d entries", len(got))
		}
	})
}

package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// ProfileStore is the conformance suite of the profile port: create (retries
// are no-ops, handles unique case-insensitively), lookups, partial updates,
// idempotent delete, and search (ranking, prefix and fuzzy matching,
// pagination by cursor, escaping of user input).
func ProfileStore(t *testing.T, open func(t *testing.T) profile.Store) {
	Lifecycle(t, profile.Component, func(t *testing.T) storage.Store { return open(t) })
	migrated := func(t *testing.T) profile.Store {
		s := open(t)
		if err := s.Migrate(ctx(t)); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}

	t.Run("create and get", func(t *testing.T) {
		s, c := migrated(t), ctx(t)
		created := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
		want := profile.Profile{
			UserID: UniqueName("u"), Handle: "Ada_" + UniqueName("x")[2:], DisplayName: "Ada Lovelace",
			Bio: "First programmer. ✨", AvatarMediaID: UniqueName("m"), IsPrivate: true, CreatedAt: created,
		}
		if err := s.Create(c, want); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Get(c, want.UserID)
		if err != nil || !sameProfile(got, want) {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
		}
		for _, h := range []string{want.Handle, strings.ToUpper(want.Handle), strings.ToLower(want.Handle)} {
			got, err := s.GetByHandle(c, h)
			if err != nil || !sameProfile(got, want) {
				t.Fatalf("GetByHandle(%q) = %+v, %v; want %+v", h, got, err, want)
			}
		}
		// A zero CreatedAt becomes the creation time.
		before := time.Now().Add(-time.Second)
		bare := profile.Profile{UserID: UniqueName("u"), Handle: UniqueName("bare")}
		if err := s.Create(c, bare); err != nil {
			t.Fatalf("Create without CreatedAt: %v", err)
		}
		got, err = s.Get(c, bare.UserID)
		if err != nil || got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) ||
			got.DisplayName != "" || got.Bio != "" || got.AvatarMediaID != "" || got.IsPrivate {
			t.Fatalf("Get(bare) = %+v, %v; want empty fields created about now", got, err)
		}
	})

	t.Run("get many", func(t *testing.T) {
		s, c := migrated(t), ctx(t)
		var ids []string
		for i := 0; i < 3; i++ {
			p := profile.Profile{UserID: UniqueName("u"), Handle: UniqueName("many"), DisplayName: fmt.Sprint("Many ", i), CreatedAt: time.Now().UTC()}
			if err := s.Create(c, p); err != nil {
				t.Fatalf("Create: %v", err)
			}
			ids = append(ids, p.UserID)
		}
		got, err := s.GetMany(c, []string{ids[2], "missing_" + ids[0], ids[0], ids[2], ids[1]})
		if err != nil {
			t.Fatalf("GetMany: %v", err)
		}
		var gotIDs []string
		for _, p := range got {
			gotIDs = append(gotIDs, p.UserID)
		}
		if want := []string{ids[2], ids[0], ids[1]}; fmt.Sprint(gotIDs) != fmt.Sprint(want) {
			t.Errorf("GetMany order = %v, want %v (unknown and repeated IDs left out)", gotIDs, want)
		}
		if len(got) > 0 && got[0].DisplayName != "Many 2" {
			t.Errorf("GetMany[0] = %+v, want the third profile", got[0])
		}
		if none, err := s.GetMany(c, nil); err != nil || len(none) != 0 {
			t.Errorf("GetMany(nil) = %v, %v", none, err)
		}
	})

	t.Run("create is idempotent and handles are unique", func(t *testing.T) {
		s, c := migrated(t), ctx(t)
		p := profile.Profile{UserID: UniqueName("u"), Handle: UniqueName("Bob"), DisplayName: "Bob", CreatedAt: time.Now().UTC()}
		if err := s.Create(c, p); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Create(c, p); err != nil {
			t.Fatalf("Create again (a retry) = %v, want nil", err)
		}
		other := profile.Profile{UserID: UniqueName("u"), Handle: p.Handle, CreatedAt: time.Now().UTC()}
		if err := s.Create(c, other); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("Create with a taken handle = %v, want ErrAlreadyExists", err)
		}
		other.Handle = strings.ToUpper(p.Handle)
		if err := s.Create(c, other); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("Create with a taken handle in another case = %v, want ErrAlreadyExists", err)
		}
		if _, err := s.Get(c, other.UserID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the refused profile exists: Get = %v", err)
		}
		if got, err := s.Get(c, p.UserID); err != nil || got.DisplayName != "Bob" {
			t.Fatalf("the first profile changed: %+v, %v", got, err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		s, c := migrated(t), ctx(t)
		if _, err := s.Get(c, UniqueName("nobody")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetByHandle(c, UniqueName("nobody")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetByHandle(missing) = %v, want ErrNotFound", err)
		}
		name := "x"
		if _, err := s.Update(c, UniqueName("nobody"), profile.Update{DisplayName: &name}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Update(missing) = %v, want ErrNotFound", err)
		}
		if _, err := s.Update(c, UniqueName("nobody"), profile.Update{}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("empty Update(missing) = %v, want ErrNotFound", err)
		}
	})

	t.Run("update", func(t *testing.T) {
		s, c := migrated(t), ctx(t)
		want := profile.Profile{UserID: UniqueName("u"), Handle: UniqueName("carol"), DisplayName: "Carol", Bio: "bio",
			AvatarMediaID: "m1", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		if err := s.Create(c, want); err != nil {
			t.Fatal(err)
		}
		check := func(step string, u profile.Update) {
			t.Helper()
			got, err := s.Update(c, want.UserID, u)
			if err != nil || !sameProfile(got, want) {
				t.Fatalf("%s: Update = %+v, %v; want %+v", step, got, err, want)
			}
			if got, err := s.Get(c, want.UserID); err != nil || !sameProfile(got, want) {
				t.Fatalf("%s: Get after Update = %+v, %v; want %+v", step, got, err, want)
			}
		}
		check("no fields", profile.Update{})
		name, bio, avatar, private := "Carol C.", "new bio", "m2", true
		want.DisplayName = name
		check("display name", profile.Update{DisplayName: &name})
		want.Bio = bio
		check("bio", profile.Update{Bio: &bio})
		want.AvatarMediaID = avatar
		check("avatar", profile.Update{AvatarMediaID: &avatar})
		want.IsPrivate = private
		check("privacy", profile.Update{IsPrivate: &private})
		// Empty values are values, not "unchanged".
		empty, public := "", false
		want.DisplayName, want.Bio, want.AvatarMediaID, want.IsPrivate = empty, empty, empty, public
		check("all fields to empty", profile.Update{DisplayName: &empty, Bio: &empty, AvatarMediaID: &empty, IsPrivate: &public})
		name, bio, avatar, private = "Caroline", "bio 3", "m3", true
		want.DisplayName, want.Bio, want.AvatarMediaID, want.IsPrivate = name, bio, avatar, private
		check("all fields", profile.Update{DisplayName: &name, Bio: &bio, AvatarMediaID: &avatar, IsPrivate: &private})
	})

	t.Run("delete", func(t *testing.T) {
		s, c := migrated(t), ctx(t)
		p := profile.Profile{UserID: UniqueName("u"), Handle: UniqueName("dave"), CreatedAt: time.Now().UTC()}
		if err := s.Create(c, p); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(c, p.UserID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(c, p.UserID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if _, err := s.GetByHandle(c, p.Handle); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetByHandle after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(c, p.UserID); err != nil {
			t.Fatalf("Delete again = %v, want nil", err)
		}
		if err := s.Delete(c, UniqueName("nobody")); err != nil {
			t.Fatalf("Delete(missing) = %v, want nil", err)
		}
		// The handle is free again.
		next := profile.Profile{UserID: UniqueName("u"), Handle: strings.ToUpper(p.Handle), CreatedAt: time.Now().UTC()}
		if err := s.Create(c, next); err != nil {
			t.Fatalf("Create with a freed handle: %v", err)
		}
		if got, err := s.GetByHandle(c, p.Handle); err != nil || got.UserID != next.UserID {
			t.Fatalf("GetByHandle = %+v, %v; want the new owner %s", got, err, next.UserID)
		}
	})

	t.Run("search", func(t *testing.T) { profileSearch(t, migrated) })
}

// profileSearch checks ranking, matching, pagination and escaping on a small
// crafted set (each test has its own database, so handles can be chosen).
func profileSearch(t *testing.T, migrated func(t *testing.T) profile.Store) {
	s, c := migrated(t), ctx(t)
	ids := map[string]string{} // handle -> user id
	add := func(t *testing.T, handle, name string) {
		t.Helper()
		id := UniqueName("u")
		if err := s.Create(c, profile.Profile{UserID: id, Handle: handle, DisplayName: name, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatalf("Create @%s: %v", handle, err)
		}
		ids[handle] = id
	}
	add(t, "alice", "Someone Else")        // exact handle
	add(t, "Alice_W", "W")                 // handle prefix ('_' sorts before 'b')
	add(t, "alicebob", "AB")               // handle prefix
	add(t, "zed", "Alice Zed")             // display-name prefix
	add(t, "mary", "Mary Alice-Jones")     // display-name word prefix
	add(t, "alica", "")                    // fuzzy (one typo)
	add(t, "bob", "Bob Smith")             // no match for "alice"
	add(t, "quentin", "Quentin Tarantino") // no match for "alice"

	handles := func(t *testing.T, ps []profile.Profile) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Handle
			if ids[p.Handle] != p.UserID {
				t.Errorf("result @%s has user id %q, want %q", p.Handle, p.UserID, ids[p.Handle])
			}
		}
		return out
	}
	search := func(t *testing.T, q string, limit int, cursor string) ([]string, string) {
		t.Helper()
		ps, next, err := s.Search(c, q, limit, cursor)
		if err != nil {
			t.Fatalf("Search(%q, %d, %q): %v", q, limit, cursor, err)
		}
		if len(ps) > limit {
			t.Fatalf("Search(%q, %d) returned %d profiles", q, limit, len(ps))
		}
		return handles(t, ps), next
	}
	// all pages through a query with the given page size.
	all := func(t *testing.T, q string, limit int) []string {
		t.Helper()
		var out []string
		cursor := ""
		for page := 0; ; page++ {
			if page > 50 {
				t.Fatalf("Search(%q, %d): pagination does not end", q, limit)
			}
			hs, next := search(t, q, limit, cursor)
			if next != "" && len(hs) != limit {
				t.Fatalf("Search(%q, %d): a short page (%v) with a next cursor", q, limit, hs)
			}
			out = append(out, hs...)
			if next == "" {
				return out
			}
			if next == cursor {
				t.Fatalf("Search(%q, %d): the cursor does not advance", q, limit)
			}
			cursor = next
		}
	}

	want := []string{"alice", "Alice_W", "alicebob", "mary", "zed", "alica"}
	t.Run("ranking", func(t *testing.T) {
		for _, q := range []string{"alice", "ALICE", "  Alice "} {
			if got, next := search(t, q, 100, ""); !slices.Equal(got, want) || next != "" {
				t.Errorf("Search(%q) = %v, next %q; want %v and no next page", q, got, next, want)
			}
		}
	})

	t.Run("pagination", func(t *testing.T) {
		for limit := 1; limit <= len(want)+1; limit++ {
			if got := all(t, "alice", limit); !slices.Equal(got, want) {
				t.Errorf("pages of %d = %v, want %v", limit, got, want)
			}
		}
		// A cursor is stable: the same page comes back.
		first, next := search(t, "alice", 2, "")
		if !slices.Equal(first, want[:2]) || next == "" {
			t.Fatalf("first page = %v, next %q", first, next)
		}
		a, nextA := search(t, "alice", 2, next)
		b, nextB := search(t, "alice", 2, next)
		if !slices.Equal(a, want[2:4]) || !slices.Equal(a, b) || nextA != nextB {
			t.Fatalf("second page twice = %v (%q) and %v (%q); want %v", a, nextA, b, nextB, want[2:4])
		}
		// A new profile ranked before the cursor does not shift later pages.
		add(t, "alice_a", "")
		if c, _ := search(t, "alice", 2, next); !slices.Equal(c, want[2:4]) {
			t.Fatalf("second page after an insert before it = %v, want %v", c, want[2:4])
		}
		if err := s.Delete(ctx(t), ids["alice_a"]); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("invalid cursor", func(t *testing.T) {
		_, next := search(t, "alice", 2, "")
		for _, cur := range []string{"garbage!", "bm90IGpzb24", next + "x", strings.ToUpper(next)} {
			if _, _, err := s.Search(c, "alice", 2, cur); err == nil {
				t.Errorf("Search with cursor %q = nil error, want invalid cursor", cur)
			}
		}
		if _, _, err := s.Search(c, "alicebob", 2, next); err == nil {
			t.Errorf("Search with another query's cursor = nil error, want invalid cursor")
		}
	})

	t.Run("short queries match by prefix only", func(t *testing.T) {
		// Handle prefixes by handle, then names starting with or having a word starting with "al".
		if got, _ := search(t, "al", 100, ""); !slices.Equal(got, []string{"alica", "alice", "Alice_W", "alicebob", "mary", "zed"}) {
			t.Errorf("Search(al) = %v, want [alica alice Alice_W alicebob mary zed]", got)
		}
		if got, _ := search(t, "Z", 100, ""); !slices.Equal(got, []string{"zed"}) {
			t.Errorf("Search(Z) = %v, want [zed]", got)
		}
		if got, _ := search(t, "ta", 100, ""); !slices.Equal(got, []string{"quentin"}) {
			t.Errorf("Search(ta) = %v, want [quentin] (Tarantino)", got)
		}
		if got, _ := search(t, "ob", 100, ""); len(got) != 0 {
			t.Errorf("Search(ob) = %v, want nothing (no word starts with it)", got)
		}
	})

	t.Run("fuzzy", func(t *testing.T) {
		// A substitution, a transposition, a deletion, in handles and display names.
		for q, target := range map[string]string{"alise": "alice", "alcie": "alice", "alicr": "alice", "quentn": "quentin", "tarantimo": "quentin"} {
			got, _ := search(t, q, 100, "")
			if !slices.Contains(got, target) {
				t.Errorf("Search(%q) = %v, want it to contain %s", q, got, target)
			}
			if slices.Contains(got, "bob") {
				t.Errorf("Search(%q) = %v, want no bob", q, got)
			}
		}
		// A later word of the display name matches by prefix, ahead of fuzzy matches.
		if got, _ := search(t, "smit", 100, ""); len(got) == 0 || got[0] != "bob" {
			t.Errorf("Search(smit) = %v, want bob first", got)
		}
	})

	t.Run("no match", func(t *testing.T) {
		for _, q := range []string{"zzqxjv", "xq", "", "   "} {
			if got, next := search(t, q, 10, ""); len(got) != 0 || next != "" {
				t.Errorf("Search(%q) = %v, %q; want nothing", q, got, next)
			}
		}
	})

	t.Run("input is escaped", func(t *testing.T) {
		// Query syntax of FTS5 and LIKE/regex wildcards must be literal: none
		// of these may fail or match the crafted profiles.
		for _, q := range []string{
			`"`, `""`, `*`, `%`, `_`, `\`, `'`, `-`, `^`, `(`, `a*`, `a%`, `a_`, `%e`, `_o`, `*e`,
			`zq* OR "yx" NEAR(vw uu) -tt`, `NEAR(zzq yyq)`, `NOT zzq`, `zzq AND yyq`, `{handle}: zzq`,
			`handle:zzq`, `^zzq`, `zzq"`, `"zzq`, `'; DROP TABLE profiles; --`, `%%%`, `___`, `\%\_`, `.*`, `***`,
		} {
			if got, _ := search(t, q, 100, ""); len(got) != 0 {
				t.Errorf("Search(%q) = %v, want nothing", q, got)
			}
		}
		// Punctuation around a real match does not break the query.
		for _, q := range []string{`alice"`, `"alice`, `alice*`} {
			if got, _ := search(t, q, 100, ""); !slices.Contains(got, "alice") {
				t.Errorf("Search(%q) = %v, want it to contain alice", q, got)
			}
		}
		if _, err := s.Get(c, ids["bob"]); err != nil {
			t.Fatalf("profiles damaged: %v", err)
		}
	})

	t.Run("follows updates and deletes", func(t *testing.T) {
		name := "Renamed Person"
		if _, err := s.Update(c, ids["zed"], profile.Update{DisplayName: &name}); err != nil {
			t.Fatal(err)
		}
		if got, _ := search(t, "alice", 100, ""); slices.Contains(got, "zed") {
			t.Errorf("Search(alice) = %v still finds zed by its old name", got)
		}
		if got, _ := search(t, "renamed", 100, ""); !slices.Equal(got, []string{"zed"}) {
			t.Errorf("Search(renamed) = %v, want [zed]", got)
		}
		if err := s.Delete(c, ids["alice"]); err != nil {
			t.Fatal(err)
		}
		if got, _ := search(t, "alice", 100, ""); !slices.Equal(got, []string{"Alice_W", "alicebob", "mary", "alica"}) {
			t.Errorf("Search(alice) after deleting @alice = %v", got)
		}
	})
}

// sameProfile compares p with want, CreatedAt at microsecond precision
// (PostgreSQL's).
func sameProfile(p, want profile.Profile) bool {
	w := want
	w.CreatedAt = want.CreatedAt.Truncate(time.Microsecond)
	return p.CreatedAt.Equal(w.CreatedAt) && p.CreatedAt.Location() == time.UTC &&
		p.UserID == w.UserID && p.Handle == w.Handle && p.DisplayName == w.DisplayName && p.Bio == w.Bio &&
		p.AvatarMediaID == w.AvatarMediaID && p.IsPrivate == w.IsPrivate
}

package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// NotificationStore is the conformance suite of the notification inbox
// port: Apply opens and merges groups (actors newest first, distinct count,
// move to the top) and is idempotent per batch, a read group is not merged
// into, per-actor keys stay apart, actor lists are capped while the count
// goes on, inboxes are trimmed to MaxInbox; newest-first keyset pages (also
// unread only), the unread count, MarkRead (all or nothing: an unknown or
// foreign ID is ErrNotFound and changes nothing) and MarkAllRead.
func NotificationStore(t *testing.T, open func(t *testing.T) notification.Store) {
	Lifecycle(t, notification.Component, func(t *testing.T) storage.Store { return open(t) })

	base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	group := func(user, batchID string, kind notification.Kind, post string, when time.Time, actors ...string) notification.Group {
		key := notification.GroupKey(kind, post, actors[0])
		return notification.Group{ID: notification.NotificationID(user, batchID, key), Kind: kind, PostID: post, Key: key, Actors: actors, At: when}
	}
	apply := func(t *testing.T, s notification.Store, user string, b notification.Batch) []notification.Notification {
		t.Helper()
		ns, err := s.Apply(ctx(t), user, b)
		if err != nil {
			t.Fatalf("Apply(%s): %v", b.ID, err)
		}
		if len(ns) != len(b.Groups) {
			t.Fatalf("Apply(%s) returned %d notifications for %d groups", b.ID, len(ns), len(b.Groups))
		}
		return ns
	}
	// show is a notification as "kind/post:actors/count/read".
	show := func(n notification.Notification) string {
		r := ""
		if n.Read {
			r = "/read"
		}
		return fmt.Sprintf("%s/%s:%s/%d%s", n.Kind, n.PostID, strings.Join(n.Actors, ","), n.ActorCount, r)
	}
	all := func(t *testing.T, s notification.Store, user string, limit int, unreadOnly bool) []notification.Notification {
		t.Helper()
		var out []notification.Notification
		cursor := ""
		for i := 0; ; i++ {
			ns, next, err := s.List(ctx(t), user, cursor, limit, unreadOnly)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(ns) > limit || i > 1000 {
				t.Fatalf("page of %d (limit %d) / no end", len(ns), limit)
			}
			out = append(out, ns...)
			if next == "" {
				return out
			}
			cursor = next
		}
	}
	shows := func(ns []notification.Notification) string {
		var out []string
		for _, n := range ns {
			out = append(out, show(n))
		}
		return strings.Join(out, " ")
	}
	unread := func(t *testing.T, s notification.Store, user string) int {
		t.Helper()
		n, err := s.UnreadCount(ctx(t), user)
		if err != nil {
			t.Fatalf("UnreadCount: %v", err)
		}
		return n
	}

	t.Run("apply opens, merges and is idempotent", func(t *testing.T) {
		s, c := migrated(t, open)
		u := UniqueName("u")
		b1 := notification.Batch{ID: "b1", Groups: []notification.Group{
			group(u, "b1", notification.Like, "p1", at(1), "ben", "ana"),
			group(u, "b1", notification.Follow, "", at(2), "cat"),
		}}
		first := apply(t, s, u, b1)
		again := apply(t, s, u, b1) // a retried activity
		if shows(first) != shows(again) || first[0].ID != again[0].ID || first[0].ID != b1.Groups[0].ID {
			t.Fatalf("re-applying a batch: %s (%s) then %s (%s)", shows(first), first[0].ID, shows(again), again[0].ID)
		}
		if got, want := shows(all(t, s, u, 10, false)), "follow/:cat/1 like/p1:ben,ana/2"; got != want {
			t.Fatalf("inbox = %s, want %s", got, want)
		}
		// A later batch merges into the unread like: new actors first, ana
		// not counted twice, the notification moves to the top.
		b2 := notification.Batch{ID: "b2", Groups: []notification.Group{group(u, "b2", notification.Like, "p1", at(3), "dan", "ana")}}
		merged := apply(t, s, u, b2)
		apply(t, s, u, b2)
		if merged[0].ID != first[0].ID || !merged[0].At.Equal(at(3)) {
			t.Errorf("merge = %+v, want notification %s at %v", merged[0], first[0].ID, at(3))
		}
		if got, want := shows(all(t, s, u, 1, false)), "like/p1:dan,ana,ben/3 follow/:cat/1"; got != want {
			t.Fatalf("inbox after the merge = %s, want %s", got, want)
		}
		if n := unread(t, s, u); n != 2 {
			t.Errorf("UnreadCount = %d, want 2", n)
		}
		// Once read, the next like opens a new notification.
		if err := s.MarkRead(c, u, []string{first[0].ID}); err != nil {
			t.Fatal(err)
		}
		b3 := notification.Batch{ID: "b3", Groups: []notification.Group{group(u, "b3", notification.Like, "p1", at(4), "eve")}}
		third := apply(t, s, u, b3)
		if third[0].ID == first[0].ID || third[0].Read {
			t.Errorf("like after read = %+v, want a new unread notification", third[0])
		}
		if got, want := shows(all(t, s, u, 2, false)), "like/p1:eve/1 like/p1:dan,ana,ben/3/read follow/:cat/1"; got != want {
			t.Fatalf("inbox = %s, want %s", got, want)
		}
		// Re-applying b1 after its notification was read does not reopen it.
		apply(t, s, u, b1)
		if got, want := shows(all(t, s, u, 10, true)), "like/p1:eve/1 follow/:cat/1"; got != want {
			t.Fatalf("unread after re-applying b1 = %s, want %s", got, want)
		}
	})

	t.Run("per-actor kinds and inboxes stay apart", func(t *testing.T) {
		s, c := migrated(t, open)
		u, v := UniqueName("u"), UniqueName("u")
		b := notification.Batch{ID: "b", Groups: []notification.Group{
			group(u, "b", notification.FriendRequest, "", at(1), "ana"),
			group(u, "b", notification.FriendRequest, "", at(2), "ben"),
		}}
		ns := apply(t, s, u, b)
		if ns[0].ID == ns[1].ID {
			t.Fatal("two friend requests share a notification")
		}
		b2 := notification.Batch{ID: "b2", Groups: []notification.Group{group(u, "b2", notification.FriendRequest, "", at(3), "ana")}}
		if m := apply(t, s, u, b2); m[0].ID != ns[0].ID || m[0].ActorCount != 1 {
			t.Errorf("ana's second friend request = %+v, want it merged into %s (one actor)", m[0], ns[0].ID)
		}
		if got := shows(all(t, s, v, 10, false)); got != "" || unread(t, s, v) != 0 {
			t.Errorf("another user's inbox = %q", got)
		}
		if err := s.MarkRead(c, v, []string{ns[0].ID}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("MarkRead of someone else's notification = %v, want ErrNotFound", err)
		}
		if n := unread(t, s, u); n != 2 {
			t.Errorf("UnreadCount after a foreign MarkRead = %d, want 2", n)
		}
	})

	t.Run("actors are capped, the count goes on", func(t *testing.T) {
		s, _ := migrated(t, open)
		u := UniqueName("u")
		var actors []string
		for i := range notification.MaxActors + 5 {
			actors = append(actors, fmt.Sprintf("a%02d", i))
		}
		n := apply(t, s, u, notification.Batch{ID: "b", Groups: []notification.Group{group(u, "b", notification.Like, "p", at(1), actors...)}})[0]
		if len(n.Actors) != notification.MaxActors || n.ActorCount != len(actors) || n.Actors[0] != "a00" {
			t.Fatalf("notification = %d actors from %s, count %d; want %d from a00, count %d", len(n.Actors), n.Actors[0], n.ActorCount, notification.MaxActors, len(actors))
		}
		n = apply(t, s, u, notification.Batch{ID: "b2", Groups: []notification.Group{group(u, "b2", notification.Like, "p", at(2), "new", "a01")}})[0]
		if n.ActorCount != len(actors)+1 || n.Actors[0] != "new" || n.Actors[1] != "a01" || len(n.Actors) != notification.MaxActors {
			t.Fatalf("after merge: count %d, actors %v", n.ActorCount, n.Actors)
		}
		got, _, err := s.List(ctx(t), u, "", 1, false)
		if err != nil || len(got) != 1 || fmt.Sprint(got[0].Actors) != fmt.Sprint(n.Actors) || got[0].ActorCount != n.ActorCount || got[0].UserID != u {
			t.Fatalf("List = %+v, %v; want %+v", got, err, n)
		}
	})

	t.Run("pages, unread only, cursors, counts and marks", func(t *testing.T) {
		s, c := migrated(t, open)
		u := UniqueName("u")
		var groups []notification.Group
		for i := 1; i <= 7; i++ {
			groups = append(groups, group(u, "b", notification.Comment, fmt.Sprintf("p%d", i), at(i), "ana"))
		}
		ns := apply(t, s, u, notification.Batch{ID: "b", Groups: groups})
		want := "comment/p7:ana/1 comment/p6:ana/1 comment/p5:ana/1 comment/p4:ana/1 comment/p3:ana/1 comment/p2:ana/1 comment/p1:ana/1"
		for _, limit := range []int{1, 3, 7, 50} {
			if got := shows(all(t, s, u, limit, false)); got != want {
				t.Fatalf("pages of %d = %s, want %s", limit, got, want)
			}
		}
		first, cursor, err := s.List(c, u, "", 3, false)
		if err != nil || len(first) != 3 || cursor == "" {
			t.Fatalf("first page = %v, %q, %v", first, cursor, err)
		}
		// A newer notification lands above the cursor: the next page is unchanged.
		apply(t, s, u, notification.Batch{ID: "b2", Groups: []notification.Group{group(u, "b2", notification.Comment, "p9", at(9), "ana")}})
		rest, _, err := s.List(c, u, cursor, 3, false)
		if err != nil || len(rest) != 3 || rest[0].PostID != "p4" {
			t.Fatalf("second page = %s, %v; want p4…", shows(rest), err)
		}
		for _, bad := range []string{"%%", "eHl6", "MTIz", "LTEAeA"} {
			if _, _, err := s.List(c, u, bad, 10, false); !errors.Is(err, notification.ErrBadCursor) {
				t.Errorf("List(cursor %q) = %v, want ErrBadCursor", bad, err)
			}
		}
		// MarkRead is all or nothing.
		if err := s.MarkRead(c, u, []string{ns[0].ID, "nope"}); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("MarkRead with an unknown ID = %v, want ErrNotFound", err)
		}
		if n := unread(t, s, u); n != 8 {
			t.Fatalf("UnreadCount after a refused MarkRead = %d, want 8", n)
		}
		if err := s.MarkRead(c, u, []string{ns[0].ID, ns[2].ID, ns[0].ID}); err != nil {
			t.Fatalf("MarkRead: %v", err)
		}
		if err := s.MarkRead(c, u, []string{ns[0].ID}); err != nil {
			t.Fatalf("MarkRead of a read notification: %v", err)
		}
		if n := unread(t, s, u); n != 6 {
			t.Errorf("UnreadCount = %d, want 6", n)
		}
		wantUnread := "comment/p9:ana/1 comment/p7:ana/1 comment/p6:ana/1 comment/p5:ana/1 comment/p4:ana/1 comment/p2:ana/1"
		for _, limit := range []int{1, 4, 10} {
			if got := shows(all(t, s, u, limit, true)); got != wantUnread {
				t.Errorf("unread pages of %d = %s, want %s", limit, got, wantUnread)
			}
		}
		if err := s.MarkAllRead(c, u); err != nil {
			t.Fatalf("MarkAllRead: %v", err)
		}
		if n := unread(t, s, u); n != 0 {
			t.Errorf("UnreadCount after MarkAllRead = %d", n)
		}
		if got := all(t, s, u, 10, true); len(got) != 0 {
			t.Errorf("unread after MarkAllRead = %s", shows(got))
		}
		if got := all(t, s, u, 10, false); len(got) != 8 {
			t.Errorf("inbox after MarkAllRead has %d notifications, want 8", len(got))
		}
		if ns, next, err := s.List(c, UniqueName("nobody"), "", 10, false); err != nil || len(ns) != 0 || next != "" {
			t.Errorf("empty inbox = %v, %q, %v", ns, next, err)
		}
	})

	t.Run("inbox is trimmed to MaxInbox", func(t *testing.T) {
		s, _ := migrated(t, open)
		u := UniqueName("u")
		var groups []notification.Group
		for i := range notification.MaxInbox + 5 {
			groups = append(groups, group(u, "b", notification.Like, fmt.Sprintf("p%04d", i), base.Add(time.Duration(i)*time.Millisecond), "ana"))
		}
		apply(t, s, u, notification.Batch{ID: "b", Groups: groups})
		got := all(t, s, u, 100, false)
		if len(got) != notification.MaxInbox || got[0].PostID != fmt.Sprintf("p%04d", notification.MaxInbox+4) || got[len(got)-1].PostID != "p0005" {
			t.Fatalf("after trimming: %d notifications, newest %s, oldest %s", len(got), got[0].PostID, got[len(got)-1].PostID)
		}
		if n := unread(t, s, u); n != notification.MaxInbox {
			t.Errorf("UnreadCount = %d, want %d", n, notification.MaxInbox)
		}
	})
}

// PreferenceStore is the conformance suite of the notification preference
// port: defaults, partial updates (also concurrent), digest recipients by
// frequency and email, digest claims (once per period, never backwards) and
// secrets shared by every caller.
func PreferenceStore(t *testing.T, open func(t *testing.T) notification.PreferenceStore) {
	Lifecycle(t, notification.PreferencesComponent, func(t *testing.T) storage.Store { return open(t) })

	t.Run("defaults and updates", func(t *testing.T) {
		s, c := migrated(t, open)
		u := UniqueName("u")
		p, err := s.Preferences(c, u)
		if err != nil || !samePrefs(p, notification.Defaults()) {
			t.Fatalf("Preferences(new user) = %+v, %v; want the defaults", p, err)
		}
		got, err := s.UpdatePreferences(c, u, notification.Change{Kinds: map[notification.Kind]notification.KindPreference{
			notification.Like:    {InApp: false, Email: true},
			notification.Mention: {InApp: true, Email: true},
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := notification.Defaults()
		want.Kinds[notification.Like] = notification.KindPreference{Email: true}
		want.Kinds[notification.Mention] = notification.KindPreference{InApp: true, Email: true}
		if !samePrefs(got, want) {
			t.Fatalf("UpdatePreferences = %+v, want %+v", got, want)
		}
		got, err = s.UpdatePreferences(c, u, notification.Change{Digest: notification.Weekly, Kinds: map[notification.Kind]notification.KindPreference{
			notification.Mention: {InApp: false, Email: false},
		}})
		want.Digest = notification.Weekly
		want.Kinds[notification.Mention] = notification.KindPreference{}
		if err != nil || !samePrefs(got, want) {
			t.Fatalf("second UpdatePreferences = %+v, %v; want %+v", got, err, want)
		}
		if p, err := s.Preferences(c, u); err != nil || !samePrefs(p, want) {
			t.Fatalf("Preferences = %+v, %v; want %+v", p, err, want)
		}
		if p, err := s.Preferences(c, UniqueName("u")); err != nil || !samePrefs(p, notification.Defaults()) {
			t.Fatalf("another user's Preferences = %+v, %v", p, err)
		}
	})

	t.Run("concurrent updates of different kinds all stay", func(t *testing.T) {
		s, c := migrated(t, open)
		u := UniqueName("u")
		var wg sync.WaitGroup
		for _, k := range notification.Kinds {
			wg.Go(func() {
				if _, err := s.UpdatePreferences(c, u, notification.Change{Kinds: map[notification.Kind]notification.KindPreference{k: {InApp: false, Email: true}}}); err != nil {
					t.Errorf("UpdatePreferences(%s): %v", k, err)
				}
			})
		}
		wg.Wait()
		p, err := s.Preferences(c, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range notification.Kinds {
			if p.Kind(k) != (notification.KindPreference{Email: true}) {
				t.Errorf("kind %s = %+v, want in-app off, email on (an update was lost)", k, p.Kind(k))
			}
		}
	})

	t.Run("digest recipients and claims", func(t *testing.T) {
		s, c := migrated(t, open)
		prefix := UniqueName("d")
		emailOn := map[notification.Kind]notification.KindPreference{notification.Like: {InApp: true, Email: true}}
		users := map[string]notification.Change{
			prefix + "_a": {Digest: notification.Daily, Kinds: emailOn},
			prefix + "_b": {Digest: notification.Weekly, Kinds: emailOn},
			prefix + "_c": {Digest: notification.Daily}, // no kind with email
			prefix + "_d": {Digest: notification.Daily, Kinds: emailOn},
			prefix + "_e": {Digest: notification.Never, Kinds: emailOn},
			prefix + "_f": {Kinds: emailOn}, // the default frequency (daily)
		}
		for u, ch := range users {
			if _, err := s.UpdatePreferences(c, u, ch); err != nil {
				t.Fatal(err)
			}
		}
		page := func(freq notification.Frequency, limit int) []string {
			t.Helper()
			var out []string
			after := prefix
			for i := 0; i < 100; i++ {
				ids, err := s.DigestRecipients(c, freq, after, limit)
				if err != nil {
					t.Fatalf("DigestRecipients: %v", err)
				}
				for _, id := range ids {
					if strings.HasPrefix(id, prefix) {
						out = append(out, strings.TrimPrefix(id, prefix+"_"))
					}
				}
				if len(ids) < limit {
					return out
				}
				after = ids[len(ids)-1]
			}
			t.Fatal("DigestRecipients never ended")
			return nil
		}
		if got := fmt.Sprint(page(notification.Daily, 1)); got != "[a d f]" {
			t.Errorf("daily recipients = %s, want [a d f]", got)
		}
		if got := fmt.Sprint(page(notification.Weekly, 10)); got != "[b]" {
			t.Errorf("weekly recipients = %s, want [b]", got)
		}
		// Turning email off removes a user from the digests.
		if _, err := s.UpdatePreferences(c, prefix+"_d", notification.Change{Kinds: map[notification.Kind]notification.KindPreference{notification.Like: {InApp: true}}}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(page(notification.Daily, 10)); got != "[a f]" {
			t.Errorf("daily recipients after d turned email off = %s, want [a f]", got)
		}

		day := time.Date(2026, 5, 6, 8, 0, 0, 0, time.UTC)
		claim := func(u string, period time.Time, wantOK bool, wantLast time.Time) {
			t.Helper()
			last, ok, err := s.ClaimDigest(c, u, period)
			if err != nil || ok != wantOK || !last.Equal(wantLast) {
				t.Errorf("ClaimDigest(%s, %v) = %v, %v, %v; want %v, %v", u, period, last, ok, err, wantLast, wantOK)
			}
		}
		a := prefix + "_a"
		claim(a, day, true, time.Time{})
		claim(a, day, false, time.Time{})                 // a retried run
		claim(a, day.Add(-time.Hour), false, time.Time{}) // never backwards
		claim(a, day.Add(24*time.Hour), true, day)
		nobody := UniqueName("u") // never changed a setting
		claim(nobody, day, true, time.Time{})
		claim(nobody, day, false, time.Time{})
		if p, err := s.Preferences(c, nobody); err != nil || !samePrefs(p, notification.Defaults()) {
			t.Errorf("a claim changed the settings: %+v, %v", p, err)
		}
		if p, err := s.Preferences(c, a); err != nil || p.Digest != notification.Daily || !p.Kind(notification.Like).Email {
			t.Errorf("a claim changed a's settings: %+v, %v", p, err)
		}
	})

	t.Run("secrets", func(t *testing.T) {
		s, c := migrated(t, open)
		var wg sync.WaitGroup
		keys := make([][]byte, 4)
		for i := range keys {
			wg.Go(func() {
				k, err := s.Secret(c, "unsubscribe")
				if err != nil {
					t.Errorf("Secret: %v", err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		for _, k := range keys[1:] {
			if len(k) != 32 || !bytes.Equal(k, keys[0]) {
				t.Fatalf("Secret gave different keys: %x", keys)
			}
		}
		other, err := s.Secret(c, "other")
		if err != nil || len(other) != 32 || bytes.Equal(other, keys[0]) {
			t.Fatalf("Secret(other) = %x, %v", other, err)
		}
	})
}

func samePrefs(a, b notification.Preferences) bool {
	if a.Digest != b.Digest {
		return false
	}
	for _, k := range notification.Kinds {
		if a.Kind(k) != b.Kind(k) {
			return false
		}
	}
	return true
}

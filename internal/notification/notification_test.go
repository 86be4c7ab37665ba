package notification_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/notification"
	notifsqlite "github.com/ejazz/ejazz/internal/notification/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func e(id string, kind notification.Kind, actor, post string, sec int) notification.Event {
	return notification.Event{ID: id, Kind: kind, ActorID: actor, PostID: post, At: t0.Add(time.Duration(sec) * time.Second)}
}

func show(groups []notification.PendingGroup) string {
	var out []string
	for _, g := range groups {
		out = append(out, fmt.Sprintf("%s/%s:%s", g.Kind, g.PostID, strings.Join(g.Actors, ",")))
	}
	return strings.Join(out, " ")
}

func TestPendingGroupsUndoesAndDedupes(t *testing.T) {
	var p notification.Pending
	p.Add(
		e("1", notification.Like, "ana", "p1", 1),
		e("2", notification.Follow, "ben", "", 2),
		e("3", notification.Like, "cat", "p1", 3),
		e("3", notification.Like, "cat", "p1", 3), // the same event twice
		e("4", notification.Like, "ana", "p2", 4),
		e("5", notification.FriendRequest, "dan", "", 5),
		e("6", notification.FriendRequest, "eve", "", 6),
		e("7", notification.Like, "fay", "p1", 7),
		e("8", "bogus", "gus", "p1", 8),
	)
	undo := e("9", notification.Like, "fay", "p1", 8)
	undo.Undo = true
	p.Add(undo, e("10", notification.Like, "ana", "p1", 9)) // ana likes p1 again: one actor
	if p.Len() != 7 {
		t.Fatalf("Len = %d, want 7", p.Len())
	}
	groups, batch := p.Take()
	want := "like/p1:ana,cat follow/:ben like/p2:ana friend_request/:dan friend_request/:eve"
	if got := show(groups); got != want {
		t.Errorf("groups = %s, want %s", got, want)
	}
	if !groups[0].At.Equal(t0.Add(9*time.Second)) || p.Len() != 0 {
		t.Errorf("first group at %v, %d left", groups[0].At, p.Len())
	}
	// The batch ID comes from the events: the same events give the same ID.
	var q notification.Pending
	q.Add(e("1", notification.Like, "ana", "p1", 1), e("2", notification.Follow, "ben", "", 2))
	_, b1 := q.Take()
	q.Add(e("1", notification.Like, "ana", "p1", 1), e("2", notification.Follow, "ben", "", 2))
	_, b2 := q.Take()
	if b1 != b2 || b1 == batch || b1 == "" {
		t.Errorf("batch IDs %q %q %q", b1, b2, batch)
	}
	// Pending survives a JSON round trip (continue-as-new) with its dedupe.
	q.Add(e("1", notification.Like, "ana", "p1", 1))
	raw, _ := json.Marshal(q)
	var r notification.Pending
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	r.Add(e("1", notification.Like, "ana", "p1", 1))
	if r.Len() != 1 {
		t.Errorf("after a round trip Len = %d, want 1", r.Len())
	}
}

func TestMergeAndSummary(t *testing.T) {
	g := notification.Group{ID: "n1", Kind: notification.Like, PostID: "p", Key: "like/p", Actors: []string{"b", "a"}, At: t0}
	n := notification.Open("u", g, "b1")
	m := notification.Merge(n, notification.Group{Actors: []string{"c", "a"}, At: t0.Add(time.Second)}, "b2")
	if fmt.Sprint(m.Actors) != "[c a b]" || m.ActorCount != 3 || !m.At.Equal(t0.Add(time.Second)) || !m.HasBatch("b1") || !m.HasBatch("b2") {
		t.Errorf("merge = %+v", m)
	}
	if fmt.Sprint(n.Actors) != "[b a]" || n.ActorCount != 2 {
		t.Errorf("Merge changed its input: %+v", n)
	}
	old := notification.Merge(m, notification.Group{Actors: []string{"d"}, At: t0}, "b3")
	if !old.At.Equal(m.At) {
		t.Errorf("an older group moved the notification back: %v", old.At)
	}
	for _, tc := range []struct {
		kind  notification.Kind
		names []string
		count int
		want  string
	}{
		{notification.Like, []string{"Ana"}, 1, "Ana liked your post"},
		{notification.Like, []string{"Ana", "Ben"}, 2, "Ana and Ben liked your post"},
		{notification.Like, []string{"Ana"}, 2, "Ana and 1 other liked your post"},
		{notification.Like, []string{"Ana", "Ben", "Cat"}, 13, "Ana and 12 others liked your post"},
		{notification.Follow, []string{"Ana", "Ben"}, 3, "Ana and 2 others followed you"},
		{notification.Comment, []string{"Ana"}, 1, "Ana commented on your post"},
		{notification.FriendRequest, []string{"Ana"}, 1, "Ana sent you a friend request"},
		{notification.FriendAccepted, []string{"Ana"}, 1, "Ana accepted your friend request"},
		{notification.Mention, nil, 0, "Someone mentioned you"},
	} {
		if got := notification.Summary(tc.kind, tc.names, tc.count); got != tc.want {
			t.Errorf("Summary(%s, %v, %d) = %q, want %q", tc.kind, tc.names, tc.count, got, tc.want)
		}
	}
}

func TestCursor(t *testing.T) {
	n := notification.Notification{ID: "abc", At: t0.Add(123 * time.Millisecond)}
	at, id, ok, err := notification.DecodeCursor(notification.EncodeCursor(n))
	if err != nil || !ok || id != "abc" || !at.Equal(n.At) {
		t.Fatalf("round trip = %v %q %v %v", at, id, ok, err)
	}
	if _, _, ok, err := notification.DecodeCursor(""); ok || err != nil {
		t.Fatalf("empty cursor = %v %v", ok, err)
	}
	for _, bad := range []string{"!!", "YWJj", "MTIzAA", "eAB5"} {
		if _, _, _, err := notification.DecodeCursor(bad); err != notification.ErrBadCursor {
			t.Errorf("DecodeCursor(%q) = %v", bad, err)
		}
	}
}

func TestHubFansOutAndCleansUp(t *testing.T) {
	h := &notification.Hub{MaxPerUser: 2, Buffer: 1}
	ctx := context.Background()
	a1, c1, err := h.Subscribe(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	a2, c2, _ := h.Subscribe(ctx, "a")
	b, cb, _ := h.Subscribe(ctx, "b")
	if _, _, err := h.Subscribe(ctx, "a"); err != notification.ErrTooManyStreams {
		t.Fatalf("third subscription = %v, want ErrTooManyStreams", err)
	}
	_ = h.Publish(ctx, notification.Update{UserID: "a", UnreadCount: 1}, notification.Update{UserID: "a", UnreadCount: 2})
	for _, ch := range []<-chan notification.Update{a1, a2} {
		if u := <-ch; u.UnreadCount != 1 {
			t.Errorf("got %+v, want the first update (the second overflowed a buffer of 1)", u)
		}
	}
	select {
	case u := <-b:
		t.Fatalf("b got a's update %+v", u)
	default:
	}
	c1()
	c1() // twice is fine
	if _, ok := <-a1; ok {
		t.Error("a cancelled subscription stays open")
	}
	if h.Subscribers("a") != 1 || h.Subscribers("") != 2 {
		t.Errorf("subscribers a=%d all=%d", h.Subscribers("a"), h.Subscribers(""))
	}
	c2()
	cb()
	if h.Subscribers("") != 0 {
		t.Errorf("%d subscriptions left", h.Subscribers(""))
	}
}

func TestUnsubscribeLink(t *testing.T) {
	db := storetest.SQLite(t)
	prefs := notifsqlite.NewPreferences(db)
	ctx := context.Background()
	if err := prefs.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := prefs.UpdatePreferences(ctx, "u1", notification.Change{Kinds: map[notification.Kind]notification.KindPreference{notification.Like: {InApp: true, Email: true}}}); err != nil {
		t.Fatal(err)
	}
	u := &notification.Unsubscribe{Prefs: prefs, BaseURL: "http://ejazz.test/"}
	srv := httptest.NewServer(u.Handler())
	defer srv.Close()
	link, err := u.URL(ctx, "u1")
	if err != nil || !strings.HasPrefix(link, "http://ejazz.test"+notification.UnsubscribePath+"?") {
		t.Fatalf("URL = %q, %v", link, err)
	}
	// Another process (another Unsubscribe on the same store) signs alike.
	if again, _ := (&notification.Unsubscribe{Prefs: prefs, BaseURL: "http://ejazz.test"}).URL(ctx, "u1"); again != link {
		t.Fatalf("links differ across instances: %s %s", link, again)
	}
	parsed, _ := url.Parse(link)
	local := srv.URL + parsed.Path + "?" + parsed.RawQuery
	get := func(method, target string) int {
		t.Helper()
		req, _ := http.NewRequest(method, target, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	digest := func() notification.Frequency {
		p, err := prefs.Preferences(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return p.Digest
	}
	if code := get(http.MethodGet, local); code != http.StatusOK || digest() != notification.Daily {
		t.Fatalf("GET = %d, digest %v: a GET must not unsubscribe", code, digest())
	}
	tampered := strings.Replace(local, "u=u1", "u=u2", 1)
	if code := get(http.MethodPost, tampered); code != http.StatusForbidden {
		t.Fatalf("POST with another user's ID = %d, want 403", code)
	}
	if code := get(http.MethodPost, local); code != http.StatusOK || digest() != notification.Never {
		t.Fatalf("POST = %d, digest %v; want 200 and never", code, digest())
	}
	if code := get(http.MethodDelete, local); code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE = %d", code)
	}
}

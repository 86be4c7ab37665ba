package notificationapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	notificationv1 "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/graph"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/notificationapi"
	notifsqlite "github.com/ejazz/ejazz/internal/notification/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	profilesqlite "github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

const testUserHeader = "X-Test-User"

type env struct {
	client notificationv1connect.NotificationServiceClient
	inbox  notification.Store
	graph  graph.Store
	hub    *notification.Hub
}

// The cast: the recipient and the people who act on their posts.
const (
	me  = "u-me"
	ana = "u-ana"
	ben = "u-ben"
	cat = "u-cat"
	you = "u-you"
)

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	profiles, g, inbox, prefs := profilesqlite.New(db), graphsqlite.New(db), notifsqlite.New(db), notifsqlite.NewPreferences(db)
	for _, s := range []interface{ Migrate(context.Context) error }{profiles, g, inbox, prefs} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{me, ana, ben, cat, you} {
		name := strings.ToUpper(u[2:3]) + u[3:]
		if err := profiles.Create(ctx, profile.Profile{UserID: u, Handle: u[2:], DisplayName: name, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.PutUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
	}
	hub := &notification.Hub{MaxPerUser: 2}
	svc := &notificationapi.Service{Inbox: inbox, Prefs: prefs, Graph: g, Profiles: profiles, Broker: hub,
		KeepAlive: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	mux.Handle(notificationv1connect.NewNotificationServiceHandler(svc))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(testUserHeader); id != "" {
			r = r.WithContext(auth.WithCaller(r.Context(), auth.Caller{UserID: id}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &env{client: notificationv1connect.NewNotificationServiceClient(srv.Client(), srv.URL), inbox: inbox, graph: g, hub: hub}
}

func as[T any](userID string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if userID != "" {
		req.Header().Set(testUserHeader, userID)
	}
	return req
}

func wantCode(t *testing.T, err error, code connect.Code, field string) {
	t.Helper()
	if err == nil || connect.CodeOf(err) != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	if field != "" && !strings.Contains(err.Error(), field) {
		t.Fatalf("error %q does not name %q", err, field)
	}
}

var base = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// deliver writes one batch to user's inbox as the delivery activity would.
func (e *env) deliver(t *testing.T, user, batchID string, groups ...notification.PendingGroup) []notification.Notification {
	t.Helper()
	b := notification.Batch{ID: batchID}
	for _, pg := range groups {
		key := pg.Key()
		b.Groups = append(b.Groups, notification.Group{ID: notification.NotificationID(user, batchID, key), Kind: pg.Kind, PostID: pg.PostID, Key: key, Actors: pg.Actors, At: pg.At})
	}
	ns, err := e.inbox.Apply(context.Background(), user, b)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestUnauthenticated(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	_, err := e.client.ListNotifications(ctx, as("", &notificationv1.ListNotificationsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.MarkRead(ctx, as("", &notificationv1.MarkReadRequest{All: true}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.GetPreferences(ctx, as("", &notificationv1.GetPreferencesRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.UpdatePreferences(ctx, as("", &notificationv1.UpdatePreferencesRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	stream, err := e.client.StreamNotifications(ctx, as("", &notificationv1.StreamNotificationsRequest{}))
	if err == nil {
		for stream.Receive() {
			t.Fatal("anonymous stream received a message")
		}
		err = stream.Err()
	}
	wantCode(t, err, connect.CodeUnauthenticated, "")
}

func TestListGroupsPagesAndHides(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.deliver(t, me, "b1",
		notification.PendingGroup{Kind: notification.Like, PostID: "p1", Actors: []string{ben, ana}, At: base.Add(time.Second)},
		notification.PendingGroup{Kind: notification.Follow, Actors: []string{cat}, At: base.Add(2 * time.Second)})
	e.deliver(t, me, "b2", notification.PendingGroup{Kind: notification.Like, PostID: "p1", Actors: []string{you}, At: base.Add(3 * time.Second)})
	e.deliver(t, you, "b3", notification.PendingGroup{Kind: notification.Follow, Actors: []string{me}, At: base})

	res, err := e.client.ListNotifications(ctx, as(me, &notificationv1.ListNotificationsRequest{PageSize: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetUnreadCount() != 2 || len(res.Msg.GetNotifications()) != 1 || res.Msg.GetNextPageToken() == "" {
		t.Fatalf("first page = %v", res.Msg)
	}
	like := res.Msg.GetNotifications()[0]
	if like.GetKind() != notificationv1.NotificationKind_NOTIFICATION_KIND_LIKE || like.GetActorCount() != 3 || like.GetPostId() != "p1" ||
		like.GetSummary() != "You and 2 others liked your post" || len(like.GetActors()) != 3 || like.GetActors()[0].GetUserId() != you ||
		like.GetActors()[1].GetHandle() != "ben" || like.GetRead() || !like.GetCreatedAt().AsTime().Equal(base.Add(3*time.Second)) {
		t.Fatalf("grouped like = %v", like)
	}
	res, err = e.client.ListNotifications(ctx, as(me, &notificationv1.ListNotificationsRequest{PageSize: 1, PageToken: res.Msg.GetNextPageToken()}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.GetNotifications()) != 1 || res.Msg.GetNotifications()[0].GetSummary() != "Cat followed you" || res.Msg.GetNextPageToken() != "" {
		t.Fatalf("second page = %v", res.Msg)
	}
	_, err = e.client.ListNotifications(ctx, as(me, &notificationv1.ListNotificationsRequest{PageToken: "garbage!"}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")
	_, err = e.client.ListNotifications(ctx, as(me, &notificationv1.ListNotificationsRequest{PageSize: -1}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_size")

	// Blocking (or muting) an actor hides them from what was delivered
	// before; a notification with no actor left disappears.
	if _, err := e.graph.Block(ctx, me, cat); err != nil {
		t.Fatal(err)
	}
	if _, err := e.graph.Mute(ctx, me, you); err != nil {
		t.Fatal(err)
	}
	res, err = e.client.ListNotifications(ctx, as(me, &notificationv1.ListNotificationsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.GetNotifications()) != 1 || res.Msg.GetNotifications()[0].GetSummary() != "Ben and Ana liked your post" ||
		res.Msg.GetNotifications()[0].GetActorCount() != 2 {
		t.Fatalf("after block and mute = %v", res.Msg)
	}
}

func TestMarkRead(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	mine := e.deliver(t, me, "b1",
		notification.PendingGroup{Kind: notification.Like, PostID: "p1", Actors: []string{ana}, At: base},
		notification.PendingGroup{Kind: notification.Comment, PostID: "p1", Actors: []string{ben}, At: base.Add(time.Second)})
	theirs := e.deliver(t, you, "b2", notification.PendingGroup{Kind: notification.Follow, Actors: []string{ana}, At: base})
	unread := func() int32 {
		t.Helper()
		res, err := e.client.ListNotifications(ctx, as(me, &notificationv1.ListNotificationsRequest{UnreadOnly: true}))
		if err != nil {
			t.Fatal(err)
		}
		if int(res.Msg.GetUnreadCount()) != len(res.Msg.GetNotifications()) {
			t.Fatalf("unread_count %d, unread list %d", res.Msg.GetUnreadCount(), len(res.Msg.GetNotifications()))
		}
		return res.Msg.GetUnreadCount()
	}
	for _, bad := range []*notificationv1.MarkReadRequest{
		{}, {All: true, NotificationIds: []string{mine[0].ID}}, {NotificationIds: []string{""}}, {NotificationIds: make([]string, 101)},
	} {
		_, err := e.client.MarkRead(ctx, as(me, bad))
		wantCode(t, err, connect.CodeInvalidArgument, "notification_ids")
	}
	// Someone else's or unknown IDs: not_found, nothing changed.
	_, err := e.client.MarkRead(ctx, as(me, &notificationv1.MarkReadRequest{NotificationIds: []string{mine[0].ID, theirs[0].ID}}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.MarkRead(ctx, as(me, &notificationv1.MarkReadRequest{NotificationIds: []string{mine[0].ID, "0123456789abcdef"}}))
	wantCode(t, err, connect.CodeNotFound, "")
	if n := unread(); n != 2 {
		t.Fatalf("unread after refused marks = %d, want 2", n)
	}
	if _, err := e.client.MarkRead(ctx, as(me, &notificationv1.MarkReadRequest{NotificationIds: []string{mine[0].ID}})); err != nil {
		t.Fatal(err)
	}
	if n := unread(); n != 1 {
		t.Fatalf("unread = %d, want 1", n)
	}
	if _, err := e.client.MarkRead(ctx, as(me, &notificationv1.MarkReadRequest{All: true})); err != nil {
		t.Fatal(err)
	}
	if n := unread(); n != 0 {
		t.Fatalf("unread after all = %d, want 0", n)
	}
	if n, _ := e.inbox.UnreadCount(ctx, you); n != 1 {
		t.Errorf("the other user's unread count = %d, want 1", n)
	}
}

func TestStreamDeliversToEveryStreamAndCleansUp(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type msg struct {
		m   *notificationv1.StreamNotificationsResponse
		err error
	}
	open := func() (*connect.ServerStreamForClient[notificationv1.StreamNotificationsResponse], chan msg) {
		t.Helper()
		s, err := e.client.StreamNotifications(ctx, as(me, &notificationv1.StreamNotificationsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan msg, 16)
		go func() {
			for s.Receive() {
				ch <- msg{m: s.Msg()}
			}
			ch <- msg{err: s.Err()}
			close(ch)
		}()
		return s, ch
	}
	next := func(ch chan msg) *notificationv1.StreamNotificationsResponse {
		t.Helper()
		select {
		case m := <-ch:
			if m.err != nil || m.m == nil {
				t.Fatalf("stream ended: %v", m.err)
			}
			return m.m
		case <-time.After(5 * time.Second):
			t.Fatal("no stream message in 5 s")
		}
		return nil
	}
	s1, ch1 := open()
	s2, ch2 := open()
	for _, ch := range []chan msg{ch1, ch2} {
		if m := next(ch); m.GetNotification() != nil || m.GetUnreadCount() != 0 {
			t.Fatalf("first message = %v, want the unread count only", m)
		}
	}
	if n := e.hub.Subscribers(me); n != 2 {
		t.Fatalf("subscribers = %d, want 2", n)
	}
	// A third stream of the same user is refused (MaxPerUser 2).
	s3, err := e.client.StreamNotifications(ctx, as(me, &notificationv1.StreamNotificationsRequest{}))
	if err == nil {
		for s3.Receive() {
		}
		err = s3.Err()
	}
	wantCode(t, err, connect.CodeResourceExhausted, "")

	written := e.deliver(t, me, "b1", notification.PendingGroup{Kind: notification.Like, PostID: "p1", Actors: []string{ana, ben}, At: base})
	blocked := e.deliver(t, me, "b2", notification.PendingGroup{Kind: notification.Follow, Actors: []string{cat}, At: base})
	if _, err := e.graph.Block(ctx, me, cat); err != nil {
		t.Fatal(err)
	}
	_ = e.hub.Publish(ctx,
		notification.Update{UserID: you, Notification: written[0], UnreadCount: 9}, // another user's: not for me
		notification.Update{UserID: me, Notification: blocked[0], UnreadCount: 2},  // only a blocked actor: dropped
		notification.Update{UserID: me, Notification: written[0], UnreadCount: 2})
	for _, ch := range []chan msg{ch1, ch2} {
		m := next(ch)
		for m.GetNotification() == nil { // keep-alives may come first
			m = next(ch)
		}
		if m.GetNotification().GetNotificationId() != written[0].ID || m.GetUnreadCount() != 2 || m.GetNotification().GetSummary() != "Ana and Ben liked your post" {
			t.Fatalf("streamed = %v", m)
		}
	}
	// Keep-alives carry the unread count only.
	for _, ch := range []chan msg{ch1, ch2} {
		if m := next(ch); m.GetNotification() != nil || m.GetUnreadCount() != 2 {
			t.Fatalf("keep-alive = %v, want unread_count 2 only", m)
		}
	}
	// Disconnecting removes the subscription.
	_ = s1.Close()
	_ = s2.Close()
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Subscribers("") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions left after the clients went away", e.hub.Subscribers(""))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPreferences(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	res, err := e.client.GetPreferences(ctx, as(me, &notificationv1.GetPreferencesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg.GetPreferences()
	if len(p.GetKinds()) != 9 || p.GetEmailDigestFrequency() != notificationv1.EmailDigestFrequency_EMAIL_DIGEST_FREQUENCY_DAILY {
		t.Fatalf("defaults = %v", p)
	}
	for _, k := range p.GetKinds() {
		if !k.GetInApp() || k.GetEmail() {
			t.Fatalf("default of %v = %v, want in-app on, email off", k.GetKind(), k)
		}
	}
	up, err := e.client.UpdatePreferences(ctx, as(me, &notificationv1.UpdatePreferencesRequest{Preferences: &notificationv1.NotificationPreferences{
		Kinds:                []*notificationv1.KindPreference{{Kind: notificationv1.NotificationKind_NOTIFICATION_KIND_LIKE, InApp: false, Email: true}},
		EmailDigestFrequency: notificationv1.EmailDigestFrequency_EMAIL_DIGEST_FREQUENCY_WEEKLY,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	got := up.Msg.GetPreferences()
	if got.GetEmailDigestFrequency() != notificationv1.EmailDigestFrequency_EMAIL_DIGEST_FREQUENCY_WEEKLY || got.GetKinds()[0].GetInApp() || !got.GetKinds()[0].GetEmail() || !got.GetKinds()[1].GetInApp() {
		t.Fatalf("after update = %v", got)
	}
	// UNSPECIFIED frequency leaves it; kinds not listed stay.
	up, err = e.client.UpdatePreferences(ctx, as(me, &notificationv1.UpdatePreferencesRequest{Preferences: &notificationv1.NotificationPreferences{
		Kinds: []*notificationv1.KindPreference{{Kind: notificationv1.NotificationKind_NOTIFICATION_KIND_MENTION, InApp: true, Email: true}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	got = up.Msg.GetPreferences()
	if got.GetEmailDigestFrequency() != notificationv1.EmailDigestFrequency_EMAIL_DIGEST_FREQUENCY_WEEKLY || got.GetKinds()[0].GetInApp() || !got.GetKinds()[6].GetEmail() {
		t.Fatalf("after second update = %v", got)
	}
	for _, tc := range []struct {
		p     *notificationv1.NotificationPreferences
		field string
	}{
		{nil, "preferences"},
		{&notificationv1.NotificationPreferences{Kinds: []*notificationv1.KindPreference{{}}}, "preferences.kinds[0].kind"},
		{&notificationv1.NotificationPreferences{Kinds: []*notificationv1.KindPreference{{Kind: 1}, {Kind: 42}}}, "preferences.kinds[1].kind"},
		{&notificationv1.NotificationPreferences{Kinds: []*notificationv1.KindPreference{{Kind: 3}, {Kind: 3}}}, "preferences.kinds[1].kind"},
		{&notificationv1.NotificationPreferences{EmailDigestFrequency: 7}, "preferences.email_digest_frequency"},
	} {
		_, err := e.client.UpdatePreferences(ctx, as(me, &notificationv1.UpdatePreferencesRequest{Preferences: tc.p}))
		wantCode(t, err, connect.CodeInvalidArgument, tc.field)
	}
	res, err = e.client.GetPreferences(ctx, as(me, &notificationv1.GetPreferencesRequest{}))
	if err != nil || res.Msg.GetPreferences().GetKinds()[6].GetEmail() != true || res.Msg.GetPreferences().GetKinds()[0].GetInApp() {
		t.Fatalf("bad updates changed something: %v, %v", res, err)
	}
	// Another user still has the defaults.
	res, err = e.client.GetPreferences(ctx, as(you, &notificationv1.GetPreferencesRequest{}))
	if err != nil || !res.Msg.GetPreferences().GetKinds()[0].GetInApp() {
		t.Fatalf("another user's preferences = %v, %v", res, err)
	}
}

package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/account"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/mail/devbox"
	"github.com/ejazz/ejazz/internal/notification"
	notifsqlite "github.com/ejazz/ejazz/internal/notification/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	postsqlite "github.com/ejazz/ejazz/internal/post/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	profilesqlite "github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

type notifEnv struct {
	a     *activities.Notifications
	inbox *notifsqlite.Store
	prefs *notifsqlite.Preferences
	mail  *devbox.Box
	hub   *notification.Hub
	env   *testsuite.TestActivityEnvironment
}

func newNotifEnv(t *testing.T) *notifEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	g, posts, profiles, accounts := graphsqlite.New(db), postsqlite.New(db), profilesqlite.New(db), accountsqlite.New(db)
	inbox, prefs, box := notifsqlite.New(db), notifsqlite.NewPreferences(db), devbox.New(db, "")
	for _, s := range []interface{ Migrate(context.Context) error }{g, posts, profiles, accounts, inbox, prefs, box} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"me", "ana", "ben", "cat", "dan", "eve"} {
		if err := profiles.Create(ctx, profile.Profile{UserID: u, Handle: u, DisplayName: strings.ToUpper(u[:1]) + u[1:], CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.PutUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		if err := accounts.Create(ctx, account.Account{ID: u, Email: u + "@example.com", Handle: u, PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := accounts.MarkVerified(ctx, u, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// me blocks ben, mutes cat; dan's FRIENDS post mentions me (not a friend).
	if _, err := g.Block(ctx, "me", "ben"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Mute(ctx, "me", "cat"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []post.Post{
		{ID: "p-mine", AuthorID: "me", Text: "hi", Visibility: post.Public},
		{ID: "p-anas", AuthorID: "ana", Text: "hi @me", Visibility: post.Public, Mentions: []string{"me"}},
		{ID: "p-dans", AuthorID: "dan", Text: "hi @me", Visibility: post.Friends, Mentions: []string{"me"}},
	} {
		p.CreatedAt = time.Now()
		if _, _, err := posts.Create(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	hub := &notification.Hub{}
	a := &activities.Notifications{Inbox: inbox, Prefs: prefs, Graph: g, Posts: posts, Profiles: profiles, Accounts: accounts, Mail: box,
		Broker: hub, Unsubscribe: &notification.Unsubscribe{Prefs: prefs, BaseURL: "http://ejazz.test"}, PublicURL: "http://ejazz.test"}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return &notifEnv{a: a, inbox: inbox, prefs: prefs, mail: box, hub: hub, env: env}
}

func (e *notifEnv) deliver(t *testing.T, in activities.DeliverInput) activities.DeliverResult {
	t.Helper()
	v, err := e.env.ExecuteActivity(e.a.Deliver, in)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	var res activities.DeliverResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *notifEnv) inboxOf(t *testing.T, user string) string {
	t.Helper()
	ns, _, err := e.inbox.List(context.Background(), user, "", 50, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s/%s:%s/%d", n.Kind, n.PostID, strings.Join(n.Actors, ","), n.ActorCount))
	}
	return strings.Join(out, " ")
}

var at = time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)

func TestDeliverFiltersGroupsAndPublishes(t *testing.T) {
	e := newNotifEnv(t)
	ctx := context.Background()
	sub, cancel, _ := e.hub.Subscribe(ctx, "me")
	defer cancel()
	in := activities.DeliverInput{UserID: "me", BatchID: "b1", Groups: []notification.PendingGroup{
		{Kind: notification.Like, PostID: "p-mine", Actors: []string{"ana", "ben", "cat", "me", "ghost", "eve"}, At: at}, // ben blocked, cat muted, me myself, ghost unknown
		{Kind: notification.Like, PostID: "p-anas", Actors: []string{"eve"}, At: at},                                     // not my post
		{Kind: notification.Comment, PostID: "p-gone", Actors: []string{"ana"}, At: at},                                  // deleted post
		{Kind: notification.Mention, PostID: "p-anas", Actors: []string{"ana"}, At: at.Add(time.Second)},                 // public mention
		{Kind: notification.Mention, PostID: "p-dans", Actors: []string{"dan"}, At: at},                                  // FRIENDS post I cannot see
		{Kind: notification.Follow, Actors: []string{"ben"}, At: at},                                                     // blocked
	}}
	res := e.deliver(t, in)
	if res.Written != 2 || res.Filtered != 8 {
		t.Errorf("result = %+v, want 2 written, 8 filtered", res)
	}
	want := "mention/p-anas:ana/1 like/p-mine:ana,eve/2"
	if got := e.inboxOf(t, "me"); got != want {
		t.Fatalf("inbox = %s, want %s", got, want)
	}
	for range 2 {
		select {
		case u := <-sub:
			if u.UnreadCount != 2 {
				t.Errorf("update = %+v, want unread count 2", u)
			}
		case <-time.After(time.Second):
			t.Fatal("no live update")
		}
	}
	// A retried activity writes the same rows.
	e.deliver(t, in)
	if got := e.inboxOf(t, "me"); got != want {
		t.Fatalf("inbox after a retry = %s, want %s", got, want)
	}
	// Kinds turned off in-app are not written; no mail without email.
	if _, err := e.prefs.UpdatePreferences(ctx, "me", notification.Change{Kinds: map[notification.Kind]notification.KindPreference{notification.Follow: {}}}); err != nil {
		t.Fatal(err)
	}
	res = e.deliver(t, activities.DeliverInput{UserID: "me", BatchID: "b2", Groups: []notification.PendingGroup{
		{Kind: notification.Follow, Actors: []string{"eve"}, At: at}, {Kind: notification.Like, PostID: "p-mine", Actors: []string{"dan"}, At: at.Add(time.Minute)},
	}})
	if res.Written != 1 || res.Mailed {
		t.Errorf("result = %+v, want 1 written, no mail", res)
	}
	if got, want := e.inboxOf(t, "me"), "like/p-mine:dan,ana,eve/3 mention/p-anas:ana/1"; got != want {
		t.Fatalf("inbox = %s, want %s", got, want)
	}
}

// TestDeliverManyDeliversEachRecipient: a shard's round reaches every
// recipient's inbox, a retry writes the same rows, and an attempt that
// resumes from a heartbeat skips the recipients already delivered.
func TestDeliverManyDeliversEachRecipient(t *testing.T) {
	e := newNotifEnv(t)
	round := []activities.DeliverInput{
		{UserID: "me", BatchID: "m1", Groups: []notification.PendingGroup{{Kind: notification.Follow, Actors: []string{"eve"}, At: at}}},
		{UserID: "ana", BatchID: "a1", Groups: []notification.PendingGroup{{Kind: notification.Like, PostID: "p-anas", Actors: []string{"dan", "eve"}, At: at}}},
		{UserID: "eve", BatchID: "e1"}, // nothing to say
	}
	many := func() activities.DeliverResult {
		t.Helper()
		v, err := e.env.ExecuteActivity(e.a.DeliverMany, round)
		if err != nil {
			t.Fatalf("DeliverMany: %v", err)
		}
		var res activities.DeliverResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	check := func() {
		t.Helper()
		if got := e.inboxOf(t, "me"); got != "follow/:eve/1" {
			t.Errorf("me's inbox = %s", got)
		}
		if got := e.inboxOf(t, "ana"); got != "like/p-anas:dan,eve/2" {
			t.Errorf("ana's inbox = %s", got)
		}
	}
	if res := many(); res.Written != 2 || res.Filtered != 0 {
		t.Errorf("result = %+v, want 2 written", res)
	}
	check()
	many() // a retry
	check()
	// An attempt resuming after the first recipient delivers only the rest.
	round[0].BatchID, round[1].BatchID = "m2", "a2"
	e.env.SetHeartbeatDetails(1)
	if res := many(); res.Written != 1 {
		t.Errorf("resumed result = %+v, want only ana's notification written", res)
	}
	if got := e.inboxOf(t, "me"); got != "follow/:eve/1" {
		t.Errorf("me's inbox after a resumed attempt = %s", got)
	}
}

func TestDeliverMailsImmediately(t *testing.T) {
	e := newNotifEnv(t)
	ctx := context.Background()
	if _, err := e.prefs.UpdatePreferences(ctx, "me", notification.Change{Digest: notification.Immediate,
		Kinds: map[notification.Kind]notification.KindPreference{notification.Like: {InApp: true, Email: true}, notification.Follow: {Email: true}}}); err != nil {
		t.Fatal(err)
	}
	res := e.deliver(t, activities.DeliverInput{UserID: "me", BatchID: "b1", Groups: []notification.PendingGroup{
		{Kind: notification.Like, PostID: "p-mine", Actors: []string{"ana", "eve"}, At: at},
		{Kind: notification.Follow, Actors: []string{"dan"}, At: at},
		{Kind: notification.Comment, PostID: "p-mine", Actors: []string{"dan"}, At: at},
	}})
	if !res.Mailed || res.Written != 2 {
		t.Fatalf("result = %+v, want a mail and 2 written (follow is email only)", res)
	}
	mails, err := e.mail.List(ctx, 10)
	if err != nil || len(mails) != 1 {
		t.Fatalf("mails = %v, %v", mails, err)
	}
	m := mails[0]
	if m.To[0] != "me@example.com" || m.Subject != "2 new notifications on Ejazz" || !strings.Contains(m.Text, "Ana and Eve liked your post") ||
		!strings.Contains(m.Text, "Dan followed you") || strings.Contains(m.Text, "commented") || !strings.Contains(m.Text, "http://ejazz.test/notifications/unsubscribe?") {
		t.Errorf("mail = %+v", m)
	}
}

func TestSendDigests(t *testing.T) {
	e := newNotifEnv(t)
	ctx := context.Background()
	emailLikes := map[notification.Kind]notification.KindPreference{notification.Like: {InApp: true, Email: true}}
	for _, u := range []string{"me", "ana", "eve"} {
		if _, err := e.prefs.UpdatePreferences(ctx, u, notification.Change{Kinds: emailLikes}); err != nil {
			t.Fatal(err)
		}
	}
	period := time.Now().UTC().Truncate(time.Second)
	// me: two unread likes and a follow (no email for follows); ana: only
	// an old like; eve: nothing; dan: likes but no email.
	e.deliver(t, activities.DeliverInput{UserID: "me", BatchID: "b1", Groups: []notification.PendingGroup{
		{Kind: notification.Like, PostID: "p-mine", Actors: []string{"ana", "eve"}, At: period.Add(-time.Hour)},
		{Kind: notification.Follow, Actors: []string{"dan"}, At: period.Add(-time.Hour)},
	}})
	e.deliver(t, activities.DeliverInput{UserID: "ana", BatchID: "b2", Groups: []notification.PendingGroup{
		{Kind: notification.Mention, PostID: "p-anas", Actors: []string{"eve"}, At: period.Add(-time.Hour)},
		{Kind: notification.Like, PostID: "p-anas", Actors: []string{"eve"}, At: period.Add(-48 * time.Hour)},
	}})
	run := func(p time.Time) int {
		t.Helper()
		sent := 0
		after := ""
		for {
			v, err := e.env.ExecuteActivity(e.a.SendDigests, activities.DigestPageInput{Frequency: notification.Daily, After: after, Period: p, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			var res activities.DigestPageResult
			if err := v.Get(&res); err != nil {
				t.Fatal(err)
			}
			sent += res.Sent
			if res.Next == "" {
				return sent
			}
			after = res.Next
		}
	}
	if n := run(period); n != 1 {
		t.Fatalf("sent %d digests, want 1 (me)", n)
	}
	mails, _ := e.mail.List(ctx, 10)
	if len(mails) != 1 || mails[0].To[0] != "me@example.com" || mails[0].Subject != "You have 1 unread notification on Ejazz" ||
		!strings.Contains(mails[0].Text, "Ana and Eve liked your post") || strings.Contains(mails[0].Text, "followed") ||
		!strings.Contains(mails[0].Text, "/notifications/unsubscribe?t=") || !strings.Contains(mails[0].Text, "&u=me") {
		t.Fatalf("digest mails = %+v", mails)
	}
	// The same period again (a retried run) mails nobody; the next period
	// has nothing new for me.
	if n := run(period); n != 0 {
		t.Errorf("retried run sent %d", n)
	}
	if n := run(period.Add(24 * time.Hour)); n != 0 {
		t.Errorf("next day sent %d, want 0 (nothing new)", n)
	}
}

// TestDeliverManyFiltersLikeDeliver: with the round's posts and authors
// read once for all recipients, each recipient is still filtered by its own
// relationships and visibility, exactly as Deliver filters.
func TestDeliverManyFiltersLikeDeliver(t *testing.T) {
	e := newNotifEnv(t)
	round := []activities.DeliverInput{
		{UserID: "me", BatchID: "b1", Groups: []notification.PendingGroup{
			{Kind: notification.Like, PostID: "p-mine", Actors: []string{"ana", "ben", "cat", "me", "ghost", "eve"}, At: at},
			{Kind: notification.Like, PostID: "p-anas", Actors: []string{"eve"}, At: at},
			{Kind: notification.Comment, PostID: "p-gone", Actors: []string{"ana"}, At: at},
			{Kind: notification.Mention, PostID: "p-anas", Actors: []string{"ana"}, At: at.Add(time.Second)},
			{Kind: notification.Mention, PostID: "p-dans", Actors: []string{"dan"}, At: at},
			{Kind: notification.Follow, Actors: []string{"ben"}, At: at},
		}},
		// The same posts for another recipient: ana's own post is liked.
		{UserID: "ana", BatchID: "a1", Groups: []notification.PendingGroup{{Kind: notification.Like, PostID: "p-anas", Actors: []string{"eve"}, At: at}}},
	}
	v, err := e.env.ExecuteActivity(e.a.DeliverMany, round)
	if err != nil {
		t.Fatalf("DeliverMany: %v", err)
	}
	var res activities.DeliverResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Written != 3 || res.Filtered != 8 {
		t.Errorf("result = %+v, want 3 written, 8 filtered", res)
	}
	if got, want := e.inboxOf(t, "me"), "mention/p-anas:ana/1 like/p-mine:ana,eve/2"; got != want {
		t.Errorf("me's inbox = %s, want %s", got, want)
	}
	if got, want := e.inboxOf(t, "ana"), "like/p-anas:eve/1"; got != want {
		t.Errorf("ana's inbox = %s, want %s", got, want)
	}
}

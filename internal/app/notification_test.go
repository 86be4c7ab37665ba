package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/client"

	notificationv1 "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/dispatch"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// notificationWindow is the batching window of the end-to-end tests: long
// enough that a block or an unlike lands inside it, short enough to wait for.
const notificationWindow = 2 * time.Second

// TestDevNotifications runs the notification flow on the embedded profile
// (SQLite inbox and preferences, in-process broker, dev mailbox).
func TestDevNotifications(t *testing.T) {
	cfg := devConfig(t)
	cfg.Notifications.Window = notificationWindow
	cfg.Notifications.KeepAlive = time.Second
	r, stop := startDev(t, cfg)
	defer stop()
	base := "http://" + r.HTTPAddr
	notificationFlow(t, base, devMail(base), r.Temporal)
}

// TestScaleNotifications runs the notification flow on the scale profile:
// a worker process (accounts, feed, notifications) and an API process on
// the real engines — the inbox in Cassandra, preferences and the live
// broker (LISTEN/NOTIFY) in PostgreSQL, the digest over SMTP into mailpit.
func TestScaleNotifications(t *testing.T) {
	cfg := scaleConfig(t, "EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_SMTP_ADDR", "EJAZZ_MAILPIT_URL")
	cfg.Notifications.Window = notificationWindow
	cfg.Notifications.KeepAlive = time.Second
	base, api := startScale(t, cfg, []string{workflows.QueueAccounts, workflows.QueueFeed, workflows.QueueNotifications},
		[]string{"auth", "user", "post", "notification"})
	notificationFlow(t, base, mailpit(testenv.Require(t, "EJAZZ_MAILPIT_URL")), api.Temporal)
}

// liveStream is an open StreamNotifications call whose messages a
// goroutine collects.
type liveStream struct {
	stream *connect.ServerStreamForClient[notificationv1.StreamNotificationsResponse]
	mu     sync.Mutex
	msgs   []*notificationv1.StreamNotificationsResponse
	opened chan struct{}
	done   chan struct{}
	err    error
}

func openStream(ctx context.Context, t *testing.T, c notificationv1connect.NotificationServiceClient, m member) *liveStream {
	t.Helper()
	s, err := c.StreamNotifications(ctx, by(m, &notificationv1.StreamNotificationsRequest{}))
	if err != nil {
		t.Fatalf("StreamNotifications: %v", err)
	}
	ls := &liveStream{stream: s, opened: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ls.done)
		first := true
		for s.Receive() {
			ls.mu.Lock()
			ls.msgs = append(ls.msgs, s.Msg())
			ls.mu.Unlock()
			if first {
				first = false
				close(ls.opened)
			}
		}
		ls.err = s.Err()
	}()
	select {
	case <-ls.opened:
	case <-ls.done:
		t.Fatalf("stream ended before its first message: %v", ls.err)
	case <-time.After(10 * time.Second):
		t.Fatal("no first stream message in 10 s")
	}
	return ls
}

// find returns the latest streamed notification matching ok.
func (ls *liveStream) find(ok func(*notificationv1.Notification) bool) *notificationv1.Notification {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for i := len(ls.msgs) - 1; i >= 0; i-- {
		if n := ls.msgs[i].GetNotification(); n != nil && ok(n) {
			return n
		}
	}
	return nil
}

// eventually retries check until it returns "" or the deadline passes.
func eventually(t *testing.T, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var unsubscribeRE = regexp.MustCompile(`Unsubscribe: (\S+)`)

// notificationFlow drives NotificationService through the public API with
// real tokens and real events: likes of two users grouped into one
// notification and pushed live to two concurrent streams, a mute and a
// block suppressing notifications, an unlike within the window cancelling
// its like, an in-app preference taking effect, read marks (someone else's
// → not_found), and a daily digest mailed with a working unsubscribe link.
func notificationFlow(t *testing.T, base string, readMail mailReader, tc client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	posts := postv1connect.NewPostServiceClient(http.DefaultClient, base)
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	notes := notificationv1connect.NewNotificationServiceClient(http.DefaultClient, base)
	ana := register(ctx, t, base, readMail, "ana")
	ben := register(ctx, t, base, readMail, "ben")
	cat := register(ctx, t, base, readMail, "cat")
	dan := register(ctx, t, base, readMail, "dan")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	list := func(m member) *notificationv1.ListNotificationsResponse {
		t.Helper()
		res, err := notes.ListNotifications(ctx, by(m, &notificationv1.ListNotificationsRequest{PageSize: 100}))
		must("ListNotifications", err)
		return res.Msg
	}
	findIn := func(res *notificationv1.ListNotificationsResponse, kind notificationv1.NotificationKind, postID string) *notificationv1.Notification {
		for _, n := range res.GetNotifications() {
			if n.GetKind() == kind && n.GetPostId() == postID {
				return n
			}
		}
		return nil
	}
	newPost := func(m member, text string) string {
		t.Helper()
		res, err := posts.CreatePost(ctx, by(m, &postv1.CreatePostRequest{Text: text}))
		must("CreatePost", err)
		return res.Msg.GetPost().GetPostId()
	}
	like := func(m member, postID string) {
		t.Helper()
		_, err := posts.LikePost(ctx, by(m, &postv1.LikePostRequest{PostId: postID}))
		must("LikePost", err)
	}
	kindLike, kindComment := notificationv1.NotificationKind_NOTIFICATION_KIND_LIKE, notificationv1.NotificationKind_NOTIFICATION_KIND_COMMENT
	kindFollow, kindMention := notificationv1.NotificationKind_NOTIFICATION_KIND_FOLLOW, notificationv1.NotificationKind_NOTIFICATION_KIND_MENTION

	// Without a token: unauthenticated, the stream too.
	if _, err := notes.ListNotifications(ctx, by(member{}, &notificationv1.ListNotificationsRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous ListNotifications = %v", err)
	}
	anon, err := notes.StreamNotifications(ctx, by(member{}, &notificationv1.StreamNotificationsRequest{}))
	if err == nil {
		for anon.Receive() {
			t.Fatal("an anonymous stream got a message")
		}
		err = anon.Err()
	}
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous StreamNotifications = %v, want unauthenticated", err)
	}

	// Two concurrent streams of ana's (two devices).
	streamCtx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	s1, s2 := openStream(streamCtx, t, notes, ana), openStream(streamCtx, t, notes, ana)

	// Ben and cat like ana's post: one grouped notification, live on both
	// streams within a second or so of its write.
	p1 := newPost(ana, "first post")
	start := time.Now()
	like(ben, p1)
	like(cat, p1)
	eventually(t, 20*time.Second, func() string {
		n := findIn(list(ana), kindLike, p1)
		if n == nil || n.GetActorCount() != 2 || !strings.HasSuffix(n.GetSummary(), "liked your post") || len(n.GetActors()) != 2 {
			return fmt.Sprintf("no grouped like of ben and cat on p1: %v", n)
		}
		return ""
	})
	grouped := time.Since(start)
	for i, s := range []*liveStream{s1, s2} {
		eventually(t, 5*time.Second, func() string {
			if s.find(func(n *notificationv1.Notification) bool { return n.GetPostId() == p1 && n.GetActorCount() == 2 }) == nil {
				return fmt.Sprintf("stream %d did not get the grouped like", i+1)
			}
			return ""
		})
	}
	t.Logf("two likes grouped and streamed in %v (window %v)", grouped.Round(time.Millisecond), notificationWindow)

	// Mute: cat's comment makes no notification; ben's does (and proves
	// cat's, published before it, was handled).
	_, err = users.Mute(ctx, by(ana, &userv1.MuteRequest{UserId: cat.id}))
	must("Mute", err)
	_, err = posts.CreateComment(ctx, by(cat, &postv1.CreateCommentRequest{PostId: p1, Text: "muted words"}))
	must("CreateComment(cat)", err)
	_, err = posts.CreateComment(ctx, by(ben, &postv1.CreateCommentRequest{PostId: p1, Text: "nice"}))
	must("CreateComment(ben)", err)
	eventually(t, 20*time.Second, func() string {
		n := findIn(list(ana), kindComment, p1)
		if n == nil {
			return "no comment notification from ben"
		}
		if n.GetActorCount() != 1 || n.GetActors()[0].GetUserId() != ben.id {
			t.Fatalf("comment notification = %v, want ben only (cat is muted)", n)
		}
		return ""
	})

	// Block: dan follows ana (notified), then mentions ana and is blocked
	// within the window: the mention never shows, and the follow loses its
	// only actor.
	_, err = users.Follow(ctx, by(dan, &userv1.FollowRequest{UserId: ana.id}))
	must("Follow(dan)", err)
	eventually(t, 20*time.Second, func() string {
		if findIn(list(ana), kindFollow, "") == nil {
			return "no follow notification from dan"
		}
		return ""
	})
	mention := newPost(dan, "hey @"+ana.handle)
	_, err = users.Block(ctx, by(ana, &userv1.BlockRequest{UserId: dan.id}))
	must("Block", err)

	// Undo within the window: ben likes and unlikes p2 (after a comment
	// that opens a window); then a sentinel follow.
	p2 := newPost(ana, "second post")
	_, err = posts.CreateComment(ctx, by(ben, &postv1.CreateCommentRequest{PostId: p2, Text: "first!"}))
	must("CreateComment(p2)", err)
	like(ben, p2)
	_, err = posts.UnlikePost(ctx, by(ben, &postv1.UnlikePostRequest{PostId: p2}))
	must("UnlikePost", err)
	_, err = users.Follow(ctx, by(ben, &userv1.FollowRequest{UserId: ana.id}))
	must("Follow(ben)", err)
	eventually(t, 20*time.Second, func() string {
		n := findIn(list(ana), kindFollow, "")
		if n == nil || n.GetActors()[0].GetUserId() != ben.id {
			return fmt.Sprintf("no follow notification from ben: %v", n)
		}
		return ""
	})
	time.Sleep(notificationWindow) // the unlike's window has closed
	res := list(ana)
	if n := findIn(res, kindLike, p2); n != nil {
		t.Errorf("a like undone within the window was delivered: %v", n)
	}
	if n := findIn(res, kindMention, mention); n != nil {
		t.Errorf("a blocked user's mention was delivered: %v", n)
	}
	for _, n := range res.GetNotifications() {
		for _, a := range n.GetActors() {
			if a.GetUserId() == dan.id || a.GetUserId() == cat.id {
				t.Errorf("notification %v shows a blocked or muted user", n)
			}
		}
	}

	// Preferences: likes off in-app → ben's like of p3 is not notified,
	// his comment is.
	_, err = notes.UpdatePreferences(ctx, by(ana, &notificationv1.UpdatePreferencesRequest{Preferences: &notificationv1.NotificationPreferences{
		Kinds: []*notificationv1.KindPreference{{Kind: kindLike, InApp: false}},
	}}))
	must("UpdatePreferences", err)
	_, err = notes.UpdatePreferences(ctx, by(ana, &notificationv1.UpdatePreferencesRequest{Preferences: &notificationv1.NotificationPreferences{
		Kinds: []*notificationv1.KindPreference{{}},
	}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "preferences.kinds[0].kind") {
		t.Fatalf("UpdatePreferences(UNSPECIFIED kind) = %v", err)
	}
	p3 := newPost(ana, "third post")
	like(ben, p3)
	_, err = posts.CreateComment(ctx, by(ben, &postv1.CreateCommentRequest{PostId: p3, Text: "hi"}))
	must("CreateComment(p3)", err)
	eventually(t, 20*time.Second, func() string {
		if findIn(list(ana), kindComment, p3) == nil {
			return "no comment notification on p3"
		}
		return ""
	})
	if n := findIn(list(ana), kindLike, p3); n != nil {
		t.Errorf("a like was notified with likes turned off in-app: %v", n)
	}

	// Read marks: someone else's → not_found, nothing changed.
	before := list(ana)
	likeP1 := findIn(before, kindLike, p1)
	if _, err := notes.MarkRead(ctx, by(ben, &notificationv1.MarkReadRequest{NotificationIds: []string{likeP1.GetNotificationId()}})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("MarkRead of someone else's notification = %v, want not_found", err)
	}
	if _, err := notes.MarkRead(ctx, by(ana, &notificationv1.MarkReadRequest{NotificationIds: []string{likeP1.GetNotificationId(), "nope"}})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("MarkRead with an unknown ID = %v, want not_found", err)
	}
	if after := list(ana); after.GetUnreadCount() != before.GetUnreadCount() {
		t.Fatalf("unread %d → %d after refused marks", before.GetUnreadCount(), after.GetUnreadCount())
	}

	// Digest: email on for likes and comments, daily; the daily digest run
	// (triggered through its schedule) mails ana the unread ones.
	_, err = notes.UpdatePreferences(ctx, by(ana, &notificationv1.UpdatePreferencesRequest{Preferences: &notificationv1.NotificationPreferences{
		Kinds:                []*notificationv1.KindPreference{{Kind: kindLike, InApp: true, Email: true}, {Kind: kindComment, InApp: true, Email: true}},
		EmailDigestFrequency: notificationv1.EmailDigestFrequency_EMAIL_DIGEST_FREQUENCY_DAILY,
	}}))
	must("UpdatePreferences(email)", err)
	eventually(t, 90*time.Second, func() string { // the worker creates the schedule in the background
		if err := dispatch.TriggerDigest(ctx, tc, notification.Daily); err != nil {
			return err.Error()
		}
		return ""
	})
	email := ana.handle + "@example.com"
	var digest string
	eventually(t, 60*time.Second, func() string {
		for _, text := range readMail(t, email) {
			if strings.Contains(text, "Here is what you missed on Ejazz") {
				digest = text
				return ""
			}
		}
		return "no digest mail for " + email
	})
	if !strings.Contains(digest, "liked your post") || !strings.Contains(digest, "commented on your post") || strings.Contains(digest, "followed you") {
		t.Errorf("digest = %q, want the likes and comments only", digest)
	}
	m := unsubscribeRE.FindStringSubmatch(digest)
	if m == nil {
		t.Fatalf("no unsubscribe link in %q", digest)
	}
	link, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+link.Path+"?"+link.RawQuery, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unsubscribe = %d", resp.StatusCode)
	}
	prefs, err := notes.GetPreferences(ctx, by(ana, &notificationv1.GetPreferencesRequest{}))
	must("GetPreferences", err)
	if f := prefs.Msg.GetPreferences().GetEmailDigestFrequency(); f != notificationv1.EmailDigestFrequency_EMAIL_DIGEST_FREQUENCY_NEVER {
		t.Errorf("frequency after unsubscribing = %v, want NEVER", f)
	}

	// MarkRead all; the streams end cleanly when the client goes away.
	if _, err := notes.MarkRead(ctx, by(ana, &notificationv1.MarkReadRequest{All: true})); err != nil {
		t.Fatal(err)
	}
	if n := list(ana).GetUnreadCount(); n != 0 {
		t.Errorf("unread after MarkRead(all) = %d", n)
	}
	stopStreams()
	for _, s := range []*liveStream{s1, s2} {
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Fatal("a stream did not end after its client went away")
		}
	}
}

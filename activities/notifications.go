package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Notifications holds the notification activities: delivery of a batch to
// one inbox (Deliver), of a shard's round to many (DeliverMany), and email
// digests (SendDigests).
type Notifications struct {
	Inbox    notification.Store
	Prefs    notification.PreferenceStore
	Graph    graph.Store
	Posts    post.Store
	Profiles profile.Store
	Accounts account.Store
	Mail     mail.Mailer
	// Broker carries delivered notifications to live streams; nil skips it.
	Broker notification.Broker
	// Unsubscribe signs the unsubscribe links of mails.
	Unsubscribe *notification.Unsubscribe
	// PublicURL is the base of links in mails.
	PublicURL string
}

// DeliverInput is one batch of a recipient's batching workflow: its
// events grouped by key, and the batch's ID (notification.BatchID of the
// events), from which the IDs of the notifications it opens derive.
type DeliverInput struct {
	UserID  string
	BatchID string
	Groups  []notification.PendingGroup
}

// DeliverResult says what a delivery did.
type DeliverResult struct {
	// Written is the number of notifications opened or updated.
	Written int
	// Filtered is the number of actors left out (self, blocked, muted,
	// gone, invisible posts, kinds turned off in-app).
	Filtered int
	// Mailed reports an immediate notification mail.
	Mailed bool
}

// Deliver filters a batch, merges it into the recipient's inbox, publishes
// the result to live streams and, for users on immediate email, mails it.
//
// Filtering leaves out: the recipient's own actions; actors the recipient
// blocks, is blocked by or mutes, and users no longer in the graph; posts
// that are gone, that the recipient can no longer see (post.Visible), or
// (likes, comments, reposts) that are not the recipient's; kinds the
// recipient turned off in-app (still mailed under immediate email when
// email is on for them).
//
// A retry writes the same rows: the batch ID and the notification IDs come
// from the input, and Apply remembers the batches it merged. Live updates
// and the immediate mail may then go out twice (clients upsert by ID).
func (n *Notifications) Deliver(ctx context.Context, in DeliverInput) (*DeliverResult, error) {
	return n.deliver(ctx, in, nil)
}

// deliver is Deliver with the posts and authors of a whole round read
// beforehand (pre; nil reads them for this recipient).
func (n *Notifications) deliver(ctx context.Context, in DeliverInput, pre *postFacts) (*DeliverResult, error) {
	res := &DeliverResult{}
	if in.UserID == "" || len(in.Groups) == 0 {
		return res, nil
	}
	prefs, err := n.Prefs.Preferences(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	groups, filtered, err := n.filter(ctx, in.UserID, in.BatchID, in.Groups, pre)
	if err != nil {
		return nil, err
	}
	res.Filtered = filtered
	batch := notification.Batch{ID: in.BatchID}
	var mailed []notification.Group
	for _, g := range groups {
		kp := prefs.Kind(g.Kind)
		if kp.Email && prefs.Digest == notification.Immediate {
			mailed = append(mailed, g)
		}
		if !kp.InApp {
			res.Filtered += len(g.Actors)
			continue
		}
		batch.Groups = append(batch.Groups, g)
	}
	if len(batch.Groups) > 0 {
		written, err := n.Inbox.Apply(ctx, in.UserID, batch)
		if err != nil {
			return nil, err
		}
		res.Written = len(written)
		n.publish(ctx, in.UserID, written)
	}
	if len(mailed) > 0 {
		if err := n.mailNow(ctx, in.UserID, mailed); err != nil {
			return nil, err
		}
		res.Mailed = true
	}
	return res, nil
}

// DeliverMany delivers the batches of many recipients — a round of a
// notification shard (workflows.NotificationShard) — one after the other
// with Deliver, and sums what they did.
//
// It heartbeats after each recipient with the number done, so a retried
// attempt resumes after the last recipient it knows delivered; a recipient
// delivered twice (its heartbeat lost) writes the same rows, as Deliver
// is idempotent per batch ID. A failing recipient fails the activity,
// which Temporal retries with backoff, holding back its shard's next round
// until it goes through.
func (n *Notifications) DeliverMany(ctx context.Context, in []DeliverInput) (*DeliverResult, error) {
	start := 0
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &start); err != nil || start < 0 || start > len(in) {
			start = 0
		}
	}
	// The posts (and their authors' privacy) of the whole round in two
	// reads, rather than two per recipient: a post mentioning five users
	// is read once.
	var groups []notification.PendingGroup
	for _, d := range in[start:] {
		groups = append(groups, d.Groups...)
	}
	pre, err := n.readPosts(ctx, groups)
	if err != nil {
		return nil, err
	}
	res := &DeliverResult{}
	for i := start; i < len(in); i++ {
		r, err := n.deliver(ctx, in[i], pre)
		if err != nil {
			return nil, fmt.Errorf("deliver to %s: %w", in[i].UserID, err)
		}
		res.Written += r.Written
		res.Filtered += r.Filtered
		res.Mailed = res.Mailed || r.Mailed
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i+1)
		}
	}
	return res, nil
}

// publish hands written notifications to the live streams; a broker
// failure is logged, not retried (streams are best effort, the inbox has
// them).
func (n *Notifications) publish(ctx context.Context, userID string, written []notification.Notification) {
	if n.Broker == nil || len(written) == 0 {
		return
	}
	if !n.Broker.MayListen(userID) {
		return // nobody listens: no unread count to read
	}
	unread, err := n.Inbox.UnreadCount(ctx, userID)
	if err == nil {
		updates := make([]notification.Update, 0, len(written))
		for _, w := range written {
			updates = append(updates, notification.Update{UserID: userID, Notification: w, UnreadCount: unread})
		}
		err = n.Broker.Publish(ctx, updates...)
	}
	if err != nil {
		activity.GetLogger(ctx).Warn("notifications: live update not published", "user", userID, "err", err)
	}
}

// postFacts are the posts notification groups name and, for each post's
// author, whether the profile exists and is private.
type postFacts struct {
	posts          map[string]post.Post
	known, private map[string]bool
}

// readPosts reads the posts of groups and their authors' profiles, in one
// read each.
func (n *Notifications) readPosts(ctx context.Context, groups []notification.PendingGroup) (*postFacts, error) {
	f := &postFacts{posts: map[string]post.Post{}, known: map[string]bool{}, private: map[string]bool{}}
	var postIDs []string
	seen := map[string]bool{}
	for _, g := range groups {
		if g.Kind.HasPost() && g.PostID != "" && !seen[g.PostID] {
			seen[g.PostID] = true
			postIDs = append(postIDs, g.PostID)
		}
	}
	if len(postIDs) == 0 {
		return f, nil
	}
	ps, err := n.Posts.GetMany(ctx, postIDs)
	if err != nil {
		return nil, err
	}
	var authors []string
	for _, p := range ps {
		f.posts[p.ID] = p
		if !seen["author:"+p.AuthorID] {
			seen["author:"+p.AuthorID] = true
			authors = append(authors, p.AuthorID)
		}
	}
	if len(authors) > 0 {
		profiles, err := n.Profiles.GetMany(ctx, authors)
		if err != nil {
			return nil, err
		}
		for _, p := range profiles {
			f.known[p.UserID], f.private[p.UserID] = true, p.IsPrivate
		}
	}
	return f, nil
}

// filter returns the groups with what the recipient must not hear about
// taken out, each with its notification ID, and the number of actors
// left out.
func (n *Notifications) filter(ctx context.Context, userID, batchID string, in []notification.PendingGroup, pre *postFacts) ([]notification.Group, int, error) {
	var actors []string
	seen := map[string]bool{}
	for _, g := range in {
		for _, a := range g.Actors {
			if a != userID && !seen[a] {
				seen[a] = true
				actors = append(actors, a)
			}
		}
	}
	rels, err := n.Graph.Relationships(ctx, userID, actors)
	if err != nil {
		return nil, 0, err
	}
	if pre == nil {
		if pre, err = n.readPosts(ctx, in); err != nil {
			return nil, 0, err
		}
	}
	posts, known, private := pre.posts, pre.known, pre.private
	dropped := 0
	var out []notification.Group
	for _, pg := range in {
		if pg.Kind.HasPost() {
			p, ok := posts[pg.PostID]
			switch {
			case !ok:
				dropped += len(pg.Actors)
				continue
			case pg.Kind == notification.Like || pg.Kind == notification.Comment || pg.Kind == notification.Repost:
				ok = p.AuthorID == userID
			default: // mention, quote: the actor's post, which the recipient must be able to see
				ok = p.AuthorID == userID || known[p.AuthorID] && post.Visible(p, userID, private[p.AuthorID], rels[p.AuthorID])
			}
			if !ok {
				dropped += len(pg.Actors)
				continue
			}
		}
		g := notification.Group{Kind: pg.Kind, PostID: pg.PostID, Key: pg.Key(), At: pg.At}
		for _, a := range pg.Actors {
			r, inGraph := rels[a]
			if a == userID || !inGraph || r.Blocking || r.BlockedBy || r.Muting {
				dropped++
				continue
			}
			g.Actors = append(g.Actors, a)
		}
		if len(g.Actors) == 0 {
			continue
		}
		g.ID = notification.NotificationID(userID, batchID, g.Key)
		out = append(out, g)
	}
	return out, dropped, nil
}

// mailNow sends the immediate mail of a batch's email-enabled groups.
func (n *Notifications) mailNow(ctx context.Context, userID string, groups []notification.Group) error {
	ns := make([]notification.Notification, 0, len(groups))
	for _, g := range groups {
		ns = append(ns, notification.Open(userID, g, ""))
	}
	to, name, ok, err := n.recipient(ctx, userID)
	if err != nil || !ok {
		return err
	}
	shown, err := notification.Present(ctx, n.Graph, n.Profiles, userID, ns)
	if err != nil || len(shown) == 0 {
		return err
	}
	subject := shown[0].Summary
	if len(shown) > 1 {
		subject = fmt.Sprintf("%d new notifications on Ejazz", len(shown))
	}
	text, err := n.mailText(ctx, userID, name, "Here is what just happened on Ejazz:", shown, 0, "email for every new notification")
	if err != nil {
		return err
	}
	return n.Mail.Send(ctx, mail.Message{To: []string{to}, Subject: subject, Text: text})
}

// recipient returns userID's verified address and name; ok is false for a
// user without a (verified) account.
func (n *Notifications) recipient(ctx context.Context, userID string) (to, name string, ok bool, err error) {
	a, err := n.Accounts.Get(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	if !a.Verified() || a.Email == "" {
		return "", "", false, nil
	}
	name = "@" + a.Handle
	if p, err := n.Profiles.Get(ctx, userID); err == nil {
		name = notification.Name(p)
	}
	return a.Email, name, true, nil
}

// mailText is a notification mail's body: the lines, a link to the inbox
// and the unsubscribe link.
func (n *Notifications) mailText(ctx context.Context, userID, name, intro string, shown []notification.Shown, more int, why string) (string, error) {
	unsub, err := n.Unsubscribe.URL(ctx, userID)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hi %s,\n\n%s\n\n", name, intro)
	for _, s := range shown {
		fmt.Fprintf(&b, "- %s (%s)\n", s.Summary, s.At.UTC().Format("Jan 2, 15:04 MST"))
	}
	if more > 0 {
		fmt.Fprintf(&b, "…and %d more.\n", more)
	}
	base := strings.TrimRight(n.PublicURL, "/")
	fmt.Fprintf(&b, "\nSee them all: %s/notifications\n\n", base)
	fmt.Fprintf(&b, "You get this mail because you asked for %s.\nUnsubscribe: %s\n", why, unsub)
	return b.String(), nil
}

// DigestPageInput is one page of a digest run: the users of Frequency
// after the user ID After, at most Limit (default 100), for the period
// that starts at Period.
type DigestPageInput struct {
	Frequency notification.Frequency
	After     string
	Period    time.Time
	Limit     int
}

// DigestPageResult is where the run goes on (Next, "" at the end) and how
// many mails the page sent.
type DigestPageResult struct {
	Next string
	Sent int
}

// digestLines bounds the notifications a digest lists by name.
const digestLines = 10

// SendDigests mails the digest of each user of one page who has unread
// notifications of email-enabled kinds since their previous digest (or
// within the frequency's period, for a first one). Each user is claimed for
// the period before the mail goes out (PreferenceStore.ClaimDigest), so a
// retried page never mails a user twice — at the price of a lost digest if
// the mail fails after the claim.
func (n *Notifications) SendDigests(ctx context.Context, in DigestPageInput) (*DigestPageResult, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = 100
	}
	users, err := n.Prefs.DigestRecipients(ctx, in.Frequency, in.After, limit)
	if err != nil {
		return nil, err
	}
	res := &DigestPageResult{}
	if len(users) == limit {
		res.Next = users[len(users)-1]
	}
	for i, u := range users {
		activity.RecordHeartbeat(ctx, i)
		sent, err := n.digest(ctx, u, in.Frequency, in.Period)
		if err != nil {
			return nil, fmt.Errorf("digest of %s: %w", u, err)
		}
		if sent {
			res.Sent++
		}
	}
	return res, nil
}

func (n *Notifications) digest(ctx context.Context, userID string, freq notification.Frequency, period time.Time) (bool, error) {
	prefs, err := n.Prefs.Preferences(ctx, userID)
	if err != nil {
		return false, err
	}
	if prefs.Digest != freq || !prefs.EmailAny() {
		return false, nil
	}
	last, ok, err := n.Prefs.ClaimDigest(ctx, userID, period)
	if err != nil || !ok {
		return false, err
	}
	since := last
	if since.IsZero() {
		since = period.Add(-freq.Period())
	}
	var fresh []notification.Notification
	total := 0
	cursor := ""
	for page := 0; page < 10; page++ {
		ns, next, err := n.Inbox.List(ctx, userID, cursor, 100, true)
		if err != nil {
			return false, err
		}
		old := false
		for _, x := range ns {
			if !x.At.After(since) {
				old = true
				break
			}
			if prefs.Kind(x.Kind).Email {
				total++
				if len(fresh) < digestLines {
					fresh = append(fresh, x)
				}
			}
		}
		if old || next == "" {
			break
		}
		cursor = next
	}
	if len(fresh) == 0 {
		return false, nil
	}
	to, name, ok, err := n.recipient(ctx, userID)
	if err != nil || !ok {
		return false, err
	}
	shown, err := notification.Present(ctx, n.Graph, n.Profiles, userID, fresh)
	if err != nil || len(shown) == 0 {
		return false, err
	}
	what := "a daily"
	if freq == notification.Weekly {
		what = "a weekly"
	}
	subject := fmt.Sprintf("You have %d unread notifications on Ejazz", total)
	if total == 1 {
		subject = "You have 1 unread notification on Ejazz"
	}
	text, err := n.mailText(ctx, userID, name, "Here is what you missed on Ejazz:", shown, total-len(shown), what+" notification digest")
	if err != nil {
		return false, err
	}
	if err := n.Mail.Send(ctx, mail.Message{To: []string{to}, Subject: subject, Text: text}); err != nil {
		return false, err
	}
	return true, nil
}

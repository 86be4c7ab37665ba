// Package notification owns the notification inbox, its grouping rules,
// the per-user preferences and the live-stream port.
//
// Ports (every adapter passes the conformance suites of internal/storetest):
//   - Store, the inbox: sqlite (embedded) and cassandra (scale).
//   - PreferenceStore, the settings and digest bookkeeping: sqlite (embedded)
//     and postgres (scale).
//   - Broker, the live fan-in of new notifications to open streams: Local
//     (in-process, embedded) and postgres.Broker (LISTEN/NOTIFY, scale).
//
// How events become notifications: producers publish domain events
// (internal/event); the dispatcher (internal/notification/dispatch) turns
// them into Events addressed to a recipient and signals that recipient's
// batching workflow (workflows.NotificationBatch). The workflow collects
// Events for a short window, cancels undone ones (Pending) and hands the
// resulting PendingGroups — one per (kind, post) — to the delivery activity,
// which filters them (self, blocked, muted, invisible posts, preferences),
// merges them into the inbox (Store.Apply) and publishes them (Broker).
//
// Grouping in the inbox: a group merges into the unread notification with
// the same key (kind and post; follow and friend requests also by actor, so
// each stays actionable), which moves to the top with its new actors first;
// once read, the next event of that key opens a new notification. So "Ana
// and 12 others liked your post" keeps growing until the user has seen it.
package notification

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Component is the inbox store's name in migrations and probes.
const Component = "notifications"

// PreferencesComponent is the preference store's name in migrations and
// probes; the app opens it with the inbox (component "notifications").
const PreferencesComponent = "notification_preferences"

// Limits of the inbox.
const (
	// MaxActors is how many actors a notification keeps by ID, newest
	// first; ActorCount goes on counting beyond them.
	MaxActors = 20
	// MaxBatches is how many applied batch IDs a notification remembers so
	// that re-applying a batch (a retried activity) changes nothing.
	MaxBatches = 16
	// MaxInbox is how many notifications an inbox keeps: Apply trims the
	// oldest beyond it.
	MaxInbox = 500
)

// Kind is what happened. The values are the event kinds they come from
// (internal/event).
type Kind string

// Notification kinds.
const (
	Like           Kind = "like"
	Comment        Kind = "comment"
	Follow         Kind = "follow"
	FollowRequest  Kind = "follow_request"
	Repost         Kind = "repost"
	Quote          Kind = "quote"
	Mention        Kind = "mention"
	FriendRequest  Kind = "friend_request"
	FriendAccepted Kind = "friend_accepted"
)

// Kinds lists every kind, in the contract's order.
var Kinds = []Kind{Like, Comment, Follow, FollowRequest, Repost, Quote, Mention, FriendRequest, FriendAccepted}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// HasPost reports whether notifications of kind k concern a post.
func (k Kind) HasPost() bool {
	switch k {
	case Like, Comment, Repost, Quote, Mention:
		return true
	}
	return false
}

// PerActor reports whether each actor gets a notification of its own
// (requests the user answers one by one) rather than joining a group.
func (k Kind) PerActor() bool { return k == FollowRequest || k == FriendRequest }

// GroupKey is the key a notification of kind about post by actor is grouped
// under in an inbox.
func GroupKey(kind Kind, postID, actorID string) string {
	if kind.PerActor() {
		return string(kind) + "/" + actorID
	}
	return string(kind) + "/" + postID
}

// Notification is one (possibly grouped) inbox entry. Times are kept to
// the millisecond.
type Notification struct {
	ID string
	// UserID is the recipient.
	UserID string
	Kind   Kind
	// PostID is the post concerned (Kind.HasPost), else "".
	PostID string
	// Key is the group key (GroupKey).
	Key string
	// Actors are the most recent actors, newest first, at most MaxActors.
	Actors []string
	// ActorCount is the number of distinct actors in the group: exact while
	// every actor is still listed, beyond that an actor who comes back
	// after dropping off the list is counted again.
	ActorCount int
	// At is the time of the group's latest event; lists are newest first
	// by (At, ID).
	At   time.Time
	Read bool
	// Batches are the IDs of the last MaxBatches batches merged in.
	Batches []string
}

// Group is what one batch adds to one notification: actors of one kind on
// one post (or, for per-actor kinds, one actor).
type Group struct {
	// ID is the notification ID used if the group opens a new notification
	// (NotificationID of the batch and key), so a retried batch writes the
	// same rows.
	ID     string
	Kind   Kind
	PostID string
	Key    string
	// Actors are distinct, newest first.
	Actors []string
	// At is the newest event's time.
	At time.Time
}

// Batch is one delivery to one inbox.
type Batch struct {
	// ID identifies the batch by its content (BatchID): the same events
	// give the same ID.
	ID     string
	Groups []Group
}

// BatchID derives a batch's ID from the IDs of the events it holds.
func BatchID(eventIDs []string) string {
	h := sha256.New()
	for _, id := range eventIDs {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// NotificationID derives the ID of the notification a batch opens for a
// group key in userID's inbox.
func NotificationID(userID, batchID, key string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + batchID + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// Merge adds g to n (a notification with the same key) as batch batchID:
// g's actors go first (those already listed move up; only new ones raise the
// count), the list is cut at MaxActors, At becomes the later of the two,
// and the batch is remembered. n is not changed; the result is.
func Merge(n Notification, g Group, batchID string) Notification {
	out := n
	seen := make(map[string]bool, len(n.Actors)+len(g.Actors))
	actors := make([]string, 0, len(g.Actors)+len(n.Actors))
	added := 0
	for _, a := range g.Actors {
		if seen[a] {
			continue
		}
		seen[a] = true
		actors = append(actors, a)
		if !contains(n.Actors, a) {
			added++
		}
	}
	for _, a := range n.Actors {
		if !seen[a] {
			seen[a] = true
			actors = append(actors, a)
		}
	}
	if len(actors) > MaxActors {
		actors = actors[:MaxActors]
	}
	out.Actors = actors
	out.ActorCount = n.ActorCount + added
	if g.At.After(n.At) {
		out.At = g.At.UTC().Truncate(time.Millisecond)
	}
	out.Batches = rememberBatch(n.Batches, batchID)
	return out
}

// Open returns the new notification g opens in userID's inbox as batch
// batchID.
func Open(userID string, g Group, batchID string) Notification {
	actors := g.Actors
	if len(actors) > MaxActors {
		actors = actors[:MaxActors]
	}
	return Notification{
		ID: g.ID, UserID: userID, Kind: g.Kind, PostID: g.PostID, Key: g.Key,
		Actors: append([]string(nil), actors...), ActorCount: len(g.Actors),
		At: g.At.UTC().Truncate(time.Millisecond), Batches: []string{batchID},
	}
}

// HasBatch reports whether batch batchID was merged into n.
func (n Notification) HasBatch(batchID string) bool { return contains(n.Batches, batchID) }

func rememberBatch(batches []string, id string) []string {
	out := append(append([]string(nil), batches...), id)
	if len(out) > MaxBatches {
		out = out[len(out)-MaxBatches:]
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ErrBadCursor means a page cursor is malformed.
var ErrBadCursor = errors.New("invalid cursor")

// EncodeCursor makes the opaque cursor that continues after n (lists are
// ordered by (At, ID) descending). Adapters share it so cursors mean the same
// on every engine.
func EncodeCursor(n Notification) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(n.At.UnixMilli(), 10) + "\x00" + n.ID))
}

// DecodeCursor reverses EncodeCursor; ok is false for "" (the first page).
func DecodeCursor(s string) (at time.Time, id string, ok bool, err error) {
	if s == "" {
		return time.Time{}, "", false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", false, ErrBadCursor
	}
	ms, id, found := strings.Cut(string(raw), "\x00")
	if !found || id == "" || strings.Contains(id, "\x00") {
		return time.Time{}, "", false, ErrBadCursor
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, "", false, ErrBadCursor
	}
	return time.UnixMilli(n).UTC(), id, true, nil
}

// Newer reports whether a sorts before b in an inbox (is more recent), by
// (At, ID) descending.
func Newer(a, b Notification) bool {
	if am, bm := a.At.UnixMilli(), b.At.UnixMilli(); am != bm {
		return am > bm
	}
	return a.ID > b.ID
}

// Summary is the ready-to-show text of a notification, e.g. "Ana and 12
// others liked your post". names are the display names of the listed
// actors, newest first (at least one); count is the group's actor count.
func Summary(kind Kind, names []string, count int) string {
	if len(names) == 0 {
		names = []string{"Someone"}
	}
	count = max(count, 1)
	who := names[0]
	switch {
	case count == 2 && len(names) >= 2:
		who = names[0] + " and " + names[1]
	case count == 2:
		who = names[0] + " and 1 other"
	case count > 2:
		who = fmt.Sprintf("%s and %d others", names[0], count-1)
	}
	plural := count > 1
	switch kind {
	case Like:
		return who + " liked your post"
	case Comment:
		return who + " commented on your post"
	case Follow:
		return who + " followed you"
	case FollowRequest:
		return who + " asked to follow you"
	case Repost:
		return who + " reposted your post"
	case Quote:
		return who + " quoted your post"
	case Mention:
		return who + " mentioned you"
	case FriendRequest:
		if plural {
			return who + " sent you friend requests"
		}
		return who + " sent you a friend request"
	case FriendAccepted:
		return who + " accepted your friend request"
	}
	return who + " did something"
}

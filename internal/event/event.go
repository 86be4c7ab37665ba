// Package event is the small domain-event interface between the packages
// that change things (graph, posts, media, accounts) and the ones that react
// (notifications, analytics, feed clean-up). Producers publish facts after
// they are stored; they never know who listens.
//
// An event's ID is derived from what happened (kind, actor, subject, post and
// time), so a consumer that sees the same event twice — a retried publish, a
// replayed buffer — can drop the copy.
package event

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"
)

// Kind names what happened.
type Kind string

// Event kinds of the social graph.
const (
	Followed        Kind = "follow"
	Unfollowed      Kind = "unfollow"
	FollowRequested Kind = "follow_request"
	FriendRequested Kind = "friend_request"
	FriendAccepted  Kind = "friend_accepted"
	Unfriended      Kind = "unfriend"
	Blocked         Kind = "block"
	Unblocked       Kind = "unblock"
)

// Event kinds of posts. The subject of a like, comment, repost or quote is
// the post's author; of a mention, the mentioned user.
const (
	PostCreated  Kind = "post"
	PostEdited   Kind = "post_edit"
	PostDeleted  Kind = "post_delete"
	Liked        Kind = "like"
	Unliked      Kind = "unlike"
	Commented    Kind = "comment"
	Reposted     Kind = "repost"
	RepostUndone Kind = "unrepost"
	Quoted       Kind = "quote"
	Mentioned    Kind = "mention"
)

// Event kinds of media.
const (
	// MediaUploaded: ActorID's upload MediaID was processed; Bytes is the
	// size of the original.
	MediaUploaded Kind = "media_upload"
)

// Event kinds of accounts and reading, for activity analytics.
const (
	// SignedUp: ActorID registered (see NewOnce: one per user).
	SignedUp Kind = "sign_up"
	// SignedIn: ActorID signed in.
	SignedIn Kind = "sign_in"
	// TimelineViewed: ActorID read a timeline (SubjectID's for a user
	// timeline, empty for the home timeline).
	TimelineViewed Kind = "timeline_view"
)

// Event is one fact. ActorID did Kind to SubjectID (a user) and/or PostID
// (or MediaID, with Bytes, for media).
type Event struct {
	ID        string
	Kind      Kind
	ActorID   string
	SubjectID string
	PostID    string
	MediaID   string `json:",omitempty"`
	Bytes     int64  `json:",omitempty"`
	// Hashtags are a public post's hashtags, space-separated (PostCreated
	// only; empty for posts that are not public, so trending never counts
	// them). A string keeps Event comparable.
	Hashtags string `json:",omitempty"`
	At       time.Time
}

// New returns an event at time at with its ID filled in.
func New(kind Kind, actor, subject, post string, at time.Time) Event {
	at = at.UTC()
	h := sha256.Sum256([]byte(string(kind) + "\x00" + actor + "\x00" + subject + "\x00" + post + "\x00" + strconv.FormatInt(at.UnixNano(), 10)))
	return Event{ID: hex.EncodeToString(h[:16]), Kind: kind, ActorID: actor, SubjectID: subject, PostID: post, At: at}
}

// NewMedia returns a media event; its ID depends on the media item and kind
// only, so reporting the same upload twice yields the same event.
func NewMedia(kind Kind, actor, mediaID string, bytes int64, at time.Time) Event {
	h := sha256.Sum256([]byte(string(kind) + "\x00media\x00" + mediaID))
	return Event{ID: hex.EncodeToString(h[:16]), Kind: kind, ActorID: actor, MediaID: mediaID, Bytes: bytes, At: at.UTC()}
}

// NewOnce returns an event that happens at most once per actor (sign-up):
// its ID depends on kind and actor only, so a repeated report is the same
// event whatever its time.
func NewOnce(kind Kind, actor string, at time.Time) Event {
	h := sha256.Sum256([]byte(string(kind) + "\x00once\x00" + actor))
	return Event{ID: hex.EncodeToString(h[:16]), Kind: kind, ActorID: actor, At: at.UTC()}
}

// Publisher delivers events to whoever listens. Publish returns once the
// events are handed over (not necessarily processed).
type Publisher interface {
	Publish(ctx context.Context, events ...Event) error
}

// Fanout publishes to every publisher in turn and joins their errors.
type Fanout []Publisher

// Publish hands the events to each publisher.
func (f Fanout) Publish(ctx context.Context, events ...Event) error {
	var errs []error
	for _, p := range f {
		errs = append(errs, p.Publish(ctx, events...))
	}
	return errors.Join(errs...)
}

// Recorder keeps every published event in memory, for tests and the dev
// profile's inspection.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Publish records the events.
func (r *Recorder) Publish(_ context.Context, events ...Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	return nil
}

// Events returns a copy of what was published, in order.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

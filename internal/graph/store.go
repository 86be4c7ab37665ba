// Package graph owns the social graph: follows, follow requests, friendships,
// friend requests, blocks and mutes between users. The Store port is
// implemented by the sqlite (embedded) and neo4j (scale) adapters; both pass
// the conformance suite storetest.GraphStore.
//
// Rules every adapter keeps (the suite checks each one):
//   - A follow of a private user is a follow request until the user approves
//     it; making the user public approves every pending request.
//   - Friends follow each other: a friendship creates the follow in both
//     directions (private or not) and replaces pending follow requests between
//     the two. Ending a friendship (RemoveFriend) also removes both follows —
//     an unfriended user should not keep seeing FOLLOWERS-only posts.
//   - A friend request to someone who already asked you makes you friends.
//   - A block, in either direction, removes follows, follow requests,
//     friendship and friend requests both ways and refuses new ones
//     (ErrBlocked). Mutes are private to the muter and change nothing else.
//   - Every mutation is idempotent: repeating it changes nothing and reports
//     changed=false, so callers emit an event only for a real change.
//   - Lists are newest first, ordered by (time desc, user id desc) and paged
//     with opaque keyset cursors, so a page boundary stays put while edges
//     are added or removed elsewhere.
//   - An edge records the time of the call that made it (WithTime's, when
//     the context carries one).
package graph

import (
	"context"
	"errors"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "graph"

// ErrBlocked means a block exists between the two users (in either
// direction), so the follow or friend request is refused.
var ErrBlocked = errors.New("blocked")

// ErrBadCursor means a page cursor is malformed or from another list.
var ErrBadCursor = errors.New("invalid cursor")

// FollowState is where a follow stands after Follow.
type FollowState int

// Follow states.
const (
	NotFollowing FollowState = iota
	Requested
	Following
)

// Edge is one entry of a list: the other user and when the edge was made.
type Edge struct {
	UserID string
	At     time.Time
}

// Page is one page of a list; Next is "" at the end.
type Page struct {
	Edges []Edge
	Next  string
}

// Relationship describes how From relates to To, both ways.
type Relationship struct {
	Following             bool // From follows To
	FollowedBy            bool // To follows From
	FollowRequested       bool // From asked to follow To (pending)
	FollowRequestReceived bool // To asked to follow From (pending)
	Friends               bool
	FriendRequestSent     bool // From asked To to be friends (pending)
	FriendRequestReceived bool // To asked From to be friends (pending)
	Blocking              bool // From blocks To
	BlockedBy             bool // To blocks From
	Muting                bool // From mutes To
	MutedBy               bool // To mutes From (never shown to From)
}

// Counts are a user's relationship counters.
type Counts struct {
	Followers int64
	Following int64
	Friends   int64
}

// Reason says why a user is suggested.
type Reason string

// Suggestion reasons, strongest first.
const (
	// FriendsOfFriends: friends with some of your friends.
	FriendsOfFriends Reason = "friends_of_friends"
	// FollowedByFollowing: followed by people you follow.
	FollowedByFollowing Reason = "followed_by_people_you_follow"
)

// Suggestion is a user worth following, with the number of mutual
// connections that back the reason (mutual friends for FriendsOfFriends,
// followed accounts that follow them for FollowedByFollowing).
type Suggestion struct {
	UserID string
	Mutual int
	Reason Reason
}

// FollowEdge is one follow: From follows To since At.
type FollowEdge struct {
	From, To string
	At       time.Time
}

type timeKey struct{}

// WithTime returns ctx carrying the time that mutations under it record on
// the edges they create. A caller that publishes an event for the change
// passes the event's time, so the event and the stored edge agree to the
// nanosecond (the analytics backfill re-derives event IDs from stored
// edges). Without it adapters read the clock.
func WithTime(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, timeKey{}, t)
}

// TimeOf is the time a mutation under ctx records: WithTime's, or now.
func TimeOf(ctx context.Context) time.Time {
	if t, ok := ctx.Value(timeKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// Store is the graph port. User IDs are opaque strings; a user must have been
// put (PutUser) before any edge touches it, otherwise storage.ErrNotFound.
type Store interface {
	storage.Store

	// PutUser creates the user's node or updates its privacy. Turning a
	// private user public approves its pending follow requests; the IDs of
	// the users whose requests were approved are returned.
	PutUser(ctx context.Context, userID string, private bool) (approved []string, err error)
	// DeleteUser removes the user and every edge touching it; a missing user
	// succeeds.
	DeleteUser(ctx context.Context, userID string) error

	// Follow makes from follow to, or, when to is private, records a follow
	// request. Already following (or already requested) reports the current
	// state with changed=false. ErrBlocked when a block exists either way.
	Follow(ctx context.Context, from, to string) (state FollowState, changed bool, err error)
	// Unfollow removes the follow or the pending follow request.
	Unfollow(ctx context.Context, from, to string) (changed bool, err error)
	// ApproveFollowRequest turns from's pending request to owner into a
	// follow; storage.ErrNotFound when there is no such request.
	ApproveFollowRequest(ctx context.Context, owner, from string) error
	// RejectFollowRequest drops from's pending request; storage.ErrNotFound
	// when there is none.
	RejectFollowRequest(ctx context.Context, owner, from string) error

	// SendFriendRequest asks to to be friends with from. When to has already
	// asked from, they become friends at once (friends=true).
	// storage.ErrAlreadyExists when they are friends or from's request is
	// pending; ErrBlocked when a block exists either way.
	SendFriendRequest(ctx context.Context, from, to string) (friends bool, err error)
	// RespondToFriendRequest accepts or declines from's pending request to
	// owner; storage.ErrNotFound when there is none.
	RespondToFriendRequest(ctx context.Context, owner, from string, accept bool) error
	// CancelFriendRequest withdraws from's pending request to to;
	// storage.ErrNotFound when there is none.
	CancelFriendRequest(ctx context.Context, from, to string) error
	// RemoveFriend ends the friendship and the follows both ways.
	RemoveFriend(ctx context.Context, a, b string) (changed bool, err error)

	// Block makes from block to, removing every follow, request and
	// friendship between them.
	Block(ctx context.Context, from, to string) (changed bool, err error)
	// Unblock removes from's block of to.
	Unblock(ctx context.Context, from, to string) (changed bool, err error)
	// Mute makes from mute to.
	Mute(ctx context.Context, from, to string) (changed bool, err error)
	// Unmute removes from's mute of to.
	Unmute(ctx context.Context, from, to string) (changed bool, err error)

	// Followers lists who follows userID. Every list takes a cursor ("" for
	// the first page) and a limit (> 0) and fails with ErrBadCursor on a
	// malformed cursor.
	Followers(ctx context.Context, userID, cursor string, limit int) (Page, error)
	// Following lists whom userID follows.
	Following(ctx context.Context, userID, cursor string, limit int) (Page, error)
	// FollowRequests lists pending requests to follow userID.
	FollowRequests(ctx context.Context, userID, cursor string, limit int) (Page, error)
	// Friends lists userID's friends, newest friendship first.
	Friends(ctx context.Context, userID, cursor string, limit int) (Page, error)
	// FriendRequests lists pending friend requests to (incoming) or from
	// userID.
	FriendRequests(ctx context.Context, userID string, incoming bool, cursor string, limit int) (Page, error)
	// Blocked lists whom userID blocks.
	Blocked(ctx context.Context, userID, cursor string, limit int) (Page, error)
	// Muted lists whom userID mutes.
	Muted(ctx context.Context, userID, cursor string, limit int) (Page, error)

	// Relationship describes from's relationship to to; storage.ErrNotFound
	// when either user is missing.
	Relationship(ctx context.Context, from, to string) (Relationship, error)
	// Relationships is Relationship from one user to many, in one round
	// trip; users missing from the graph (and from itself) are left out.
	Relationships(ctx context.Context, from string, to []string) (map[string]Relationship, error)
	// Counts returns the counters of the given users; missing users are left
	// out of the map.
	Counts(ctx context.Context, userIDs []string) (map[string]Counts, error)
	// MutedBy returns who mutes userID (the fan-out skips them; an author
	// with more followers than the fan-out threshold is never asked).
	MutedBy(ctx context.Context, userID string) ([]string, error)
	// Popular returns the users with at least minFollowers followers (the
	// feed's celebrities, merged into home timelines at read time).
	Popular(ctx context.Context, minFollowers int) ([]string, error)
	// Suggest returns up to limit users for userID to follow: friends of
	// friends first, then users followed by people userID follows, each
	// ranked by mutual count (then user ID). It leaves out userID, users it
	// follows, has asked to follow or is friends with, and users it blocks,
	// is blocked by or mutes.
	Suggest(ctx context.Context, userID string, limit int) ([]Suggestion, error)

	// ScanFollows lists every follow in an adapter-defined order, at most
	// limit (> 0) a page: cursor "" starts, the returned cursor is "" after
	// the last page (exports, the analytics backfill). Follows made during a
	// scan may or may not be listed; none is listed twice.
	ScanFollows(ctx context.Context, cursor string, limit int) ([]FollowEdge, string, error)
}

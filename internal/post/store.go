// Package post owns posts, their edit history, reposts, quotes, likes,
// comments, hashtags and mentions. The Store port is implemented by the
// sqlite (embedded) and cassandra (scale) adapters; both pass the conformance
// suite storetest.PostStore.
//
// The store keeps what was said and who engaged; it does not decide who may
// see what (the post API checks visibility against the graph) and it does
// not parse text (the API parses hashtags and mentions and hands them in).
//
// Post and comment IDs are UUIDv7 strings chosen by the caller: they sort by
// creation time, so "newest first" is "ID descending" and a page cursor is
// simply the last ID seen — stable while posts are added or removed.
//
// Engagement is exact under retries: a like or repost is a set membership
// keyed by (post, user), so repeating it changes nothing and reports
// changed=false, and the counts are the sizes of those sets however an
// adapter keeps them (see each adapter's doc comment).
package post

import (
	"context"
	"errors"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "posts"

// ErrBadCursor means a page cursor is malformed.
var ErrBadCursor = errors.New("invalid cursor")

// Visibility says who may see a post.
type Visibility int

// Visibilities, as in the API.
const (
	Public Visibility = iota + 1
	Followers
	Friends
	OnlyMe
)

// Post is a stored post (counts and viewer state come separately).
type Post struct {
	ID             string
	AuthorID       string
	Text           string
	MediaIDs       []string
	Visibility     Visibility
	ContentWarning string
	QuotePostID    string
	// Hashtags are lower-case, without '#', in order of first use.
	Hashtags []string
	// Mentions are the user IDs mentioned, in order of first mention.
	Mentions  []string
	CreatedAt time.Time
	// EditedAt is zero until the first edit.
	EditedAt time.Time
}

// Edit is an earlier version of a post, kept when it was edited.
type Edit struct {
	Text           string
	ContentWarning string
	// At is when this version was written (the post's creation or an edit).
	At time.Time
}

// Comment is a comment on a post; ParentID is "" for a top-level comment
// and a top-level comment's ID for a reply (one level of threading).
type Comment struct {
	ID        string
	PostID    string
	AuthorID  string
	ParentID  string
	Text      string
	CreatedAt time.Time
}

// Counts are a post's engagement counters.
type Counts struct {
	Likes    int64
	Comments int64
	Reposts  int64
}

// ViewerState is what one viewer did to a post.
type ViewerState struct {
	Liked    bool
	Reposted bool
}

// Engagement is one user's like or repost of a post.
type Engagement struct {
	UserID string
	At     time.Time
}

// Verb tells a like from a repost.
type Verb int

// Verbs of EngagementRow.
const (
	Like Verb = iota + 1
	Repost
)

// EngagementRow is one like or repost: UserID did Verb to PostID at At.
type EngagementRow struct {
	PostID string
	UserID string
	Verb   Verb
	At     time.Time
}

// Store is the post port.
type Store interface {
	storage.Store

	// Create stores p. When key is not empty and the author already created
	// a post with that idempotency key, that post is returned with
	// created=false and p is dropped (a retried CreatePost); when that post
	// has since been deleted, storage.ErrNotFound (the retry does not bring
	// it back).
	Create(ctx context.Context, p Post, key string) (stored Post, created bool, err error)
	// Get returns a post or storage.ErrNotFound.
	Get(ctx context.Context, id string) (Post, error)
	// GetMany returns the posts that exist among ids, in the order of ids.
	GetMany(ctx context.Context, ids []string) ([]Post, error)
	// Edit replaces the text, content warning, hashtags and mentions, sets
	// EditedAt to at, and keeps the previous version in the history.
	// storage.ErrNotFound when the post is gone.
	Edit(ctx context.Context, id, text, contentWarning string, hashtags, mentions []string, at time.Time) (Post, error)
	// Edits lists the earlier versions, newest first; cursor "" starts,
	// the returned cursor is "" at the end.
	Edits(ctx context.Context, id, cursor string, limit int) ([]Edit, string, error)
	// Delete removes the post with its history, likes, reposts, comments
	// and index entries, and returns it; deleted=false when it was gone.
	Delete(ctx context.Context, id string) (p Post, deleted bool, err error)
	// ByAuthor lists an author's posts, newest first.
	ByAuthor(ctx context.Context, authorID, cursor string, limit int) ([]Post, string, error)
	// ByHashtag lists the posts tagged with tag (lower-case), newest first.
	ByHashtag(ctx context.Context, tag, cursor string, limit int) ([]Post, string, error)
	// PostCounts returns how many posts each author has.
	PostCounts(ctx context.Context, authorIDs []string) (map[string]int64, error)

	// Like records userID's like of a post; changed=false when it already
	// was. storage.ErrNotFound when the post is gone.
	Like(ctx context.Context, postID, userID string, at time.Time) (changed bool, err error)
	// Unlike removes the like; changed=false when there was none.
	Unlike(ctx context.Context, postID, userID string) (changed bool, err error)
	// Likes lists who liked a post, newest first.
	Likes(ctx context.Context, postID, cursor string, limit int) ([]Engagement, string, error)
	// Repost records userID's repost; changed=false when it already was.
	// storage.ErrNotFound when the post is gone.
	Repost(ctx context.Context, postID, userID string, at time.Time) (changed bool, err error)
	// UndoRepost removes the repost; changed=false when there was none.
	UndoRepost(ctx context.Context, postID, userID string) (changed bool, err error)
	// Counts returns the counters of the posts that exist among ids.
	Counts(ctx context.Context, ids []string) (map[string]Counts, error)
	// Viewer returns what viewer did to each of the posts among ids (posts
	// without a like or repost by viewer may be left out).
	Viewer(ctx context.Context, viewer string, ids []string) (map[string]ViewerState, error)

	// AddComment stores c (its ID chosen by the caller; storing the same ID
	// again is a no-op). storage.ErrNotFound when the post or the parent
	// comment is gone.
	AddComment(ctx context.Context, c Comment) error
	// GetComment returns a comment or storage.ErrNotFound.
	GetComment(ctx context.Context, id string) (Comment, error)
	// DeleteComment removes a comment and its replies; deleted=false when
	// it was gone.
	DeleteComment(ctx context.Context, id string) (deleted bool, err error)
	// Comments lists a post's comments and replies, oldest first.
	Comments(ctx context.Context, postID, cursor string, limit int) ([]Comment, string, error)

	// ScanPosts lists every post (deleted ones left out) in an
	// adapter-defined order, for exports and the analytics backfill: at
	// most limit (> 0) a page, cursor "" starts, the returned cursor is ""
	// after the last page; a page may hold fewer than limit (even none)
	// while a cursor follows. What changes during a scan may or may not be
	// listed; nothing is listed twice. ErrBadCursor for a malformed cursor.
	ScanPosts(ctx context.Context, cursor string, limit int) ([]Post, string, error)
	// ScanEngagement lists every like and repost, as ScanPosts.
	ScanEngagement(ctx context.Context, cursor string, limit int) ([]EngagementRow, string, error)
	// ScanComments lists every comment and reply, as ScanPosts.
	ScanComments(ctx context.Context, cursor string, limit int) ([]Comment, string, error)
}

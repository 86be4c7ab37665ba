// Package timeline owns home timelines: per-user lists of post references,
// newest first, written by the feed fan-out and read by FeedService. The
// Store port is implemented by the sqlite (embedded) and cassandra (scale)
// adapters; both pass the conformance suite storetest.TimelineStore.
//
// A timeline holds references, not posts: readers hydrate them and filter
// out what is gone or hidden, so a reference that outlives its post (a
// delete racing a fan-out) is harmless. Writes are idempotent — the same
// entry written twice to an owner is one row — so a fan-out retried after a
// crash cannot duplicate anything.
package timeline

import (
	"context"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "timelines"

// MaxEntries is how many entries a timeline keeps (Trim's usual bound).
const MaxEntries = 800

// Entry is one item of a home timeline: a post, or a repost of it.
// Entries are ordered newest first by (At, PostID, RepostedBy); an entry's
// identity within a timeline is that whole key.
type Entry struct {
	PostID   string
	AuthorID string
	// RepostedBy is the user who reposted the post; "" for the post itself.
	RepostedBy string
	// At is the post's creation time, or the time of the repost.
	At time.Time
}

// Write is one entry for many owners (a page of a fan-out).
type Write struct {
	Owners []string
	Entry  Entry
}

// Store is the timeline port. Times are kept to the millisecond.
type Store interface {
	storage.Store

	// Add writes e into each owner's timeline; rewriting an entry an owner
	// already has changes nothing.
	Add(ctx context.Context, owners []string, e Entry) error
	// AddMany does several Adds at once — one transaction on SQLite, all
	// inserts in flight together on Cassandra — so a fan-out of many small
	// posts costs one round of writes, not one per post.
	AddMany(ctx context.Context, ws []Write) error
	// Page lists owner's entries newest first after cursor ("" for the
	// first page); the returned cursor is "" at the end. A malformed cursor
	// is ErrBadCursor.
	Page(ctx context.Context, owner, cursor string, limit int) ([]Entry, string, error)
	// Remove deletes e (matched by its key) from each owner's timeline.
	Remove(ctx context.Context, owners []string, e Entry) error
	// RemoveAuthor deletes from owner's timeline every entry of posts by
	// authorID and every repost by authorID (an unfollow or a block), and
	// says how many it removed.
	RemoveAuthor(ctx context.Context, owner, authorID string) (int, error)
	// Trim keeps owner's newest keep entries and deletes the rest.
	Trim(ctx context.Context, owner string, keep int) error
}

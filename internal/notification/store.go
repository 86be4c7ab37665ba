package notification

import (
	"context"

	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the inbox port. Every adapter passes the conformance suite
// storetest.NotificationStore.
type Store interface {
	storage.Store

	// Apply merges batch into userID's inbox, group by group: a group joins
	// the unread notification with the same key (Merge: it moves to the top
	// at the group's time), or opens a new one with ID group.ID (Open).
	// Applying a batch again changes nothing: a notification remembers the
	// batches merged into it, and a group whose notification exists already
	// (read or not) is not opened twice. It returns the notifications as
	// they are after the batch, in group order. When the inbox grows past
	// MaxInbox, the oldest notifications are removed.
	Apply(ctx context.Context, userID string, batch Batch) ([]Notification, error)
	// List returns userID's notifications newest first by (At, ID) after
	// cursor ("" for the first page), at most limit (> 0), only unread ones
	// when unreadOnly; the returned cursor is "" at the end. A malformed
	// cursor is ErrBadCursor.
	List(ctx context.Context, userID, cursor string, limit int, unreadOnly bool) ([]Notification, string, error)
	// UnreadCount is the number of unread notifications in userID's inbox.
	UnreadCount(ctx context.Context, userID string) (int, error)
	// MarkRead marks the notifications ids (of userID) read. When any of
	// them is not a notification of userID's inbox, it returns
	// storage.ErrNotFound and changes nothing. Marking a read notification
	// again is fine.
	MarkRead(ctx context.Context, userID string, ids []string) error
	// MarkAllRead marks every notification of userID read.
	MarkAllRead(ctx context.Context, userID string) error
}

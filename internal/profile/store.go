// Package profile owns user profiles (handle, display name, bio, avatar,
// privacy) and user search. The Store port is implemented by the sqlite
// (embedded, FTS5) and postgres (scale, pg_trgm) adapters.
package profile

import (
	"context"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "profiles"

// Profile is a user's public face.
type Profile struct {
	UserID        string
	Handle        string
	DisplayName   string
	Bio           string
	AvatarMediaID string
	IsPrivate     bool
	CreatedAt     time.Time
}

// Update changes the non-nil fields.
type Update struct {
	DisplayName   *string
	Bio           *string
	AvatarMediaID *string
	IsPrivate     *bool
}

// Store is the profile port. Every adapter passes storetest.ProfileStore.
type Store interface {
	storage.Store
	// Create inserts a profile. A profile with the same UserID and handle
	// already there is a no-op (retries are safe); a handle used by another
	// user (case-insensitively) is storage.ErrAlreadyExists.
	Create(ctx context.Context, p Profile) error
	// Get returns the profile or storage.ErrNotFound.
	Get(ctx context.Context, userID string) (Profile, error)
	// GetMany returns the profiles of the given users, in the order of
	// userIDs, leaving out unknown ones (for hydrating lists).
	GetMany(ctx context.Context, userIDs []string) ([]Profile, error)
	// GetByHandle looks up case-insensitively; storage.ErrNotFound when none.
	GetByHandle(ctx context.Context, handle string) (Profile, error)
	// Update applies u and returns the new profile; storage.ErrNotFound when missing.
	Update(ctx context.Context, userID string, u Update) (Profile, error)
	// Delete removes the profile; deleting a missing profile succeeds.
	Delete(ctx context.Context, userID string) error
	// Search finds profiles whose handle or display name matches query by
	// prefix (case-insensitive) or fuzzily (a typo or two), best matches
	// first: exact handle, then handle prefix, then display-name prefix/word
	// prefix, then fuzzy matches; ties by handle. It returns at most limit
	// profiles after the opaque cursor ("" for the first page) and the cursor
	// of the next page ("" at the end).
	Search(ctx context.Context, query string, limit int, cursor string) ([]Profile, string, error)
}

// InOrder lists the profiles of byID in the order of ids, skipping missing
// (and repeated) ones; adapters use it for GetMany.
func InOrder(ids []string, byID map[string]Profile) []Profile {
	out := make([]Profile, 0, len(byID))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out = append(out, p)
			delete(byID, id)
		}
	}
	return out
}

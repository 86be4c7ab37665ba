// Package media owns media metadata: upload sessions, pipeline status and
// variants (the bytes live behind the blob port). The Store port is
// implemented by the sqlite (embedded) and postgres (scale) adapters, and both
// pass the conformance suite storetest.MediaStore.
//
// A media item moves PENDING (upload URL issued) → PROCESSING (the client
// said the bytes are there; the pipeline workflow runs) → READY or FAILED.
// Transitions are conditional on the current status, so a retried activity or
// a second CompleteUpload never moves an item backwards.
package media

import (
	"context"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in migrations and probes.
const Component = "media"

// Status is where a media item is in the pipeline. The values match the
// API's MediaStatus enum.
type Status int

// Statuses.
const (
	Pending    Status = 1
	Processing Status = 2
	Ready      Status = 3
	Failed     Status = 4
)

// Variant is one stored rendition (thumbnail, medium, large, poster). Key is
// the blob key; URLs are built from it when serving.
type Variant struct {
	Name        string `json:"name"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Size        int64  `json:"size"`
}

// Media is one uploaded item.
type Media struct {
	ID      string
	OwnerID string
	Status  Status
	// DeclaredType is the content type the client declared at CreateUpload.
	DeclaredType string
	// ContentType is the real type sniffed from the bytes (the declared one
	// until the pipeline knows better).
	ContentType string
	// Size is the declared (and, once processed, verified) size in bytes.
	Size     int64
	Filename string
	// Width and Height of the (auto-oriented) original; 0 until known.
	Width, Height int
	// Duration of a video; 0 for images.
	Duration      time.Duration
	Variants      []Variant
	FailureReason string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Result is what a transition writes.
type Result struct {
	Status        Status
	ContentType   string // empty keeps the current one
	Width, Height int
	Duration      time.Duration
	Variants      []Variant
	FailureReason string
}

// Store is the media port.
type Store interface {
	storage.Store
	// Create records a new item (normally PENDING). An existing ID is
	// storage.ErrAlreadyExists.
	Create(ctx context.Context, m Media) error
	// Get returns the item; unknown IDs are storage.ErrNotFound.
	Get(ctx context.Context, id string) (Media, error)
	// GetMany returns the items found, keyed by ID (unknown IDs are absent).
	GetMany(ctx context.Context, ids []string) (map[string]Media, error)
	// Transition applies r if the item's status is one of from and reports
	// whether it did (false: the item is in another status, e.g. already
	// READY). Unknown IDs are storage.ErrNotFound. UpdatedAt is set to now.
	Transition(ctx context.Context, id string, from []Status, r Result) (bool, error)
	// Delete removes the item; deleting a missing one succeeds.
	Delete(ctx context.Context, id string) error
	// ScanMedia lists every item in ID order, at most limit (> 0) a page:
	// cursor "" starts, the returned cursor is "" after the last page
	// (exports, the analytics backfill). Items created during a scan may or
	// may not be listed; none is listed twice.
	ScanMedia(ctx context.Context, cursor string, limit int) ([]Media, string, error)
}

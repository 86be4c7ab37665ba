package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/storage"
)

// Supported declared content types and what they are.
var (
	ImageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}
	VideoTypes = []string{"video/mp4", "video/webm"}
)

// IsVideo reports whether contentType is a supported video type.
func IsVideo(contentType string) bool { return strings.HasPrefix(contentType, "video/") }

// UploadKey is where the client's upload lands. It is never served: it
// still carries the client's metadata (EXIF, GPS).
func UploadKey(id string) string { return "uploads/" + id }

// VariantKey is the blob key of a variant: under the item's prefix, named
// after the variant and a hash of its bytes, so a key never holds other
// content (cacheable for good) and a re-run writes the same keys.
func VariantKey(id, name, contentType string, data []byte) string {
	sum := sha256.Sum256(data)
	ext := ".bin"
	switch contentType {
	case "image/jpeg":
		ext = ".jpg"
	case "image/png":
		ext = ".png"
	case "image/webp":
		ext = ".webp"
	}
	return "media/" + id + "/" + name + "-" + hex.EncodeToString(sum[:8]) + ext
}

// Keys lists every blob key of m (the upload and its variants).
func Keys(m Media) []string {
	keys := []string{UploadKey(m.ID)}
	for _, v := range m.Variants {
		keys = append(keys, v.Key)
	}
	return keys
}

// ErrNotReady: a media item exists but is not READY.
var ErrNotReady = errors.New("media not ready")

// CheckAttachable checks that every id is owner's READY media: unknown or
// foreign ids are storage.ErrNotFound, others not READY are ErrNotReady.
func CheckAttachable(ctx context.Context, s Store, owner string, ids []string) error {
	found, err := s.GetMany(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		m, ok := found[id]
		if !ok || m.OwnerID != owner {
			return fmt.Errorf("media %s: %w", id, storage.ErrNotFound)
		}
		if m.Status != Ready {
			return fmt.Errorf("media %s: %w", id, ErrNotReady)
		}
	}
	return nil
}

// Remove deletes an item's objects, then its row (a crash in between leaves
// the row to retry from, never an orphaned object). Removing twice succeeds.
func Remove(ctx context.Context, s Store, b blob.Store, m Media) error {
	for _, k := range Keys(m) {
		if err := b.Delete(ctx, k); err != nil {
			return err
		}
	}
	return s.Delete(ctx, m.ID)
}

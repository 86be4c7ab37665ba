package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
)

// Items written under version 1 read back after version 2 with its defaults:
// declared type = content type, updated = created, nothing processed yet.
func TestMigrationKeepsVersion1Items(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	if _, err := storage.Migrate(ctx, db, media.Component, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO media (id, owner_id, status, content_type, size_bytes, created_at)
		VALUES ('m1', 'u1', 1, 'image/png', 42, '2025-01-02T03:04:05.678Z')`); err != nil {
		t.Fatal(err)
	}
	s := New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 678000000, time.UTC)
	want := media.Media{ID: "m1", OwnerID: "u1", Status: media.Pending, DeclaredType: "image/png", ContentType: "image/png",
		Size: 42, CreatedAt: created, UpdatedAt: created}
	got, err := s.Get(ctx, "m1")
	if err != nil || !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(created) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got.ID != want.ID || got.OwnerID != want.OwnerID || got.Status != want.Status || got.DeclaredType != want.DeclaredType ||
		got.ContentType != want.ContentType || got.Size != want.Size || got.Filename != "" || got.Width != 0 || got.Height != 0 ||
		got.Duration != 0 || got.Variants != nil || got.FailureReason != "" {
		t.Fatalf("Get = %+v; want %+v", got, want)
	}
	if ok, err := s.Transition(ctx, "m1", []media.Status{media.Pending}, media.Result{Status: media.Processing}); !ok || err != nil {
		t.Fatalf("Transition = %v, %v", ok, err)
	}
}

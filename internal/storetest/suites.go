package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/storage"
)

// Lifecycle is the part of every suite that all stores share: the store
// names its component, Migrate creates its schema and is idempotent (a second
// run applies nothing and fails nothing), Ping answers and Close succeeds.
func Lifecycle(t *testing.T, component string, open func(t *testing.T) storage.Store) {
	t.Run("lifecycle", func(t *testing.T) {
		s := open(t)
		c := ctx(t)
		if !strings.HasPrefix(s.Name(), component+"/") {
			t.Errorf("Name() = %q, want %q/<engine>", s.Name(), component)
		}
		if err := s.Migrate(c); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if err := s.Migrate(c); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := s.Ping(c); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// BlobStore is the conformance suite of the blob port: write, stat, read
// back, overwrite, delete, and not-found semantics.
func BlobStore(t *testing.T, open func(t *testing.T) blob.Store) {
	Lifecycle(t, blob.Component, func(t *testing.T) storage.Store { return open(t) })
	t.Run("objects", func(t *testing.T) {
		s, c := migrated(t, open)
		key := "media/" + UniqueName("m") + "/original"
		body := []byte("\x89PNG\r\n\x1a\nnot really a png")
		if err := s.Put(c, key, "image/png", bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatalf("Put: %v", err)
		}
		info, err := s.Stat(c, key)
		if err != nil || info.Size != int64(len(body)) || info.ContentType != "image/png" {
			t.Fatalf("Stat = %+v, %v; want size %d image/png", info, err, len(body))
		}
		rc, info, err := s.Get(c, key)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, body) || info.Size != int64(len(body)) {
			t.Fatalf("Get read %q (%v), info %+v; want %q", got, err, info, body)
		}
		// Overwrite replaces the object whole.
		if err := s.Put(c, key, "text/plain", strings.NewReader("v2"), 2); err != nil {
			t.Fatalf("overwrite: %v", err)
		}
		if info, err := s.Stat(c, key); err != nil || info.Size != 2 || info.ContentType != "text/plain" {
			t.Fatalf("after overwrite Stat = %+v, %v", info, err)
		}
		if err := s.Delete(c, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Stat(c, key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
		}
		if _, _, err := s.Get(c, key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(c, key); err != nil {
			t.Fatalf("Delete of a missing key = %v, want nil", err)
		}
	})
}

// migrated opens a store for one (sub)test, applies its migrations and closes
// it at cleanup.
func migrated[S storage.Store](t *testing.T, open func(t *testing.T) S) (S, context.Context) {
	t.Helper()
	s := open(t)
	c := ctx(t)
	if err := s.Migrate(c); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

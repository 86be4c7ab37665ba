// Package file implements the blob port on the local file system (embedded
// profile): objects are files under a root directory, written to a temporary
// file and renamed into place so readers never see a partial object; the
// content type is kept in a sidecar file.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store keeps blobs under Root. With WithURLs it also hands out signed URLs
// that Handler serves, so clients upload and download straight from the
// process that owns the files, as they would from S3.
type Store struct {
	Root string
	// BaseURL and Key sign URLs (see WithURLs).
	BaseURL string
	Key     []byte
}

var _ blob.Store = (*Store)(nil)

// New returns a store rooted at dir.
func New(dir string) *Store { return &Store{Root: dir} }

// Name implements storage.Store.
func (s *Store) Name() string { return blob.Component + "/file" }

// Ping checks the root is a writable directory.
func (s *Store) Ping(context.Context) error {
	f, err := os.CreateTemp(s.Root, ".ping-*")
	if err != nil {
		return fmt.Errorf("blob root %s: %w", s.Root, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// Migrate creates the root directory.
func (s *Store) Migrate(context.Context) error { return os.MkdirAll(s.Root, 0o755) }

// Close implements storage.Store.
func (s *Store) Close() error { return nil }

func (s *Store) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)[1:]
	if key == "" || clean != key || strings.HasSuffix(key, ".type") {
		return "", fmt.Errorf("blob: invalid key %q", key)
	}
	return filepath.Join(s.Root, filepath.FromSlash(clean)), nil
}

// Put writes the object atomically.
func (s *Store) Put(_ context.Context, key, contentType string, r io.Reader, size int64) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(r, size+1))
	if err == nil && n != size {
		err = fmt.Errorf("blob: %s: got %d bytes, declared %d", key, n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(p+".type", []byte(contentType), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// Get opens the object.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	p, _ := s.path(key)
	f, err := os.Open(p)
	if err != nil {
		return nil, blob.Info{}, notFound(key, err)
	}
	return f, info, nil
}

// Stat describes the object.
func (s *Store) Stat(_ context.Context, key string) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, notFound(key, err)
	}
	ct, _ := os.ReadFile(p + ".type")
	return blob.Info{Key: key, Size: fi.Size(), ContentType: string(ct)}, nil
}

// Delete removes the object.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(p + ".type"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", key, storage.ErrNotFound)
	}
	return err
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
)

// MediaStore is the conformance suite of the media metadata port: create
// (duplicate IDs refused, UpdatedAt defaulting to CreatedAt), every field
// round-tripping through Get, GetMany and ScanMedia (every item once, in
// pages), conditional transitions (applied once, never backwards, also under
// concurrency, unknown IDs not found) and idempotent delete.
func MediaStore(t *testing.T, open func(t *testing.T) media.Store) {
	Lifecycle(t, media.Component, func(t *testing.T) storage.Store { return open(t) })

	created := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	pending := func(id string) media.Media {
		return media.Media{
			ID: id, OwnerID: UniqueName("u"), Status: media.Pending, DeclaredType: "image/png", ContentType: "image/png",
			Size: 123456, Filename: "café ✨.png", CreatedAt: created,
		}
	}
	create := func(t *testing.T, s media.Store, c context.Context, m media.Media) {
		t.Helper()
		if err := s.Create(c, m); err != nil {
			t.Fatalf("Create(%s): %v", m.ID, err)
		}
	}
	get := func(t *testing.T, s media.Store, c context.Context, id string) media.Media {
		t.Helper()
		m, err := s.Get(c, id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		return m
	}
	transition := func(t *testing.T, s media.Store, c context.Context, id string, from []media.Status, r media.Result, want bool) {
		t.Helper()
		ok, err := s.Transition(c, id, from, r)
		if err != nil || ok != want {
			t.Fatalf("Transition(%s, %v → %d) = %v, %v; want %v, nil", id, from, r.Status, ok, err, want)
		}
	}

	t.Run("create and get round-trip every field", func(t *testing.T) {
		s, c := migrated(t, open)
		want := media.Media{
			ID: UniqueName("m"), OwnerID: UniqueName("u"), Status: media.Ready, DeclaredType: "video/quicktime",
			ContentType: "video/mp4", Size: 5 << 30, Filename: "holiday \"2025\" – ünïcode.mov", Width: 1920, Height: 1080,
			Duration: 83*time.Second + 250*time.Millisecond,
			Variants: []media.Variant{
				{Name: "poster", Key: "media/x/poster.jpg", ContentType: "image/jpeg", Width: 1280, Height: 720, Size: 54321},
				{Name: "thumbnail", Key: "media/x/thumb.webp", ContentType: "image/webp", Width: 320, Height: 180, Size: 4321},
			},
			FailureReason: "none, really",
			CreatedAt:     created,
			UpdatedAt:     created.Add(90*time.Second + 7*time.Millisecond),
		}
		create(t, s, c, want)
		if got := get(t, s, c, want.ID); !sameMedia(got, want) {
			t.Fatalf("Get =\n%+v\nwant\n%+v", got, want)
		}
	})

	t.Run("create defaults", func(t *testing.T) {
		s, c := migrated(t, open)
		// A zero UpdatedAt is CreatedAt.
		m := pending(UniqueName("m"))
		create(t, s, c, m)
		got := get(t, s, c, m.ID)
		if !sameTime(got.UpdatedAt, created) || !sameTime(got.CreatedAt, created) {
			t.Errorf("CreatedAt, UpdatedAt = %v, %v; want both %v", got.CreatedAt, got.UpdatedAt, created)
		}
		if got.Variants != nil || got.Width != 0 || got.Height != 0 || got.Duration != 0 || got.FailureReason != "" {
			t.Errorf("Get = %+v, want no variants, dimensions, duration or failure", got)
		}
		// A zero CreatedAt is now.
		before := time.Now().Add(-time.Second)
		bare := media.Media{ID: UniqueName("m"), OwnerID: UniqueName("u"), Status: media.Pending}
		create(t, s, c, bare)
		got = get(t, s, c, bare.ID)
		if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) || !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("Get(bare) CreatedAt, UpdatedAt = %v, %v; want both about now", got.CreatedAt, got.UpdatedAt)
		}
	})

	t.Run("duplicate id", func(t *testing.T) {
		s, c := migrated(t, open)
		m := pending(UniqueName("m"))
		create(t, s, c, m)
		other := pending(m.ID)
		other.Filename, other.Status = "other.png", media.Ready
		if err := s.Create(c, other); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("Create with a taken ID = %v, want ErrAlreadyExists", err)
		}
		if got := get(t, s, c, m.ID); !sameMedia(got, m) {
			t.Fatalf("the first item changed: %+v", got)
		}
	})

	t.Run("not found", func(t *testing.T) {
		s, c := migrated(t, open)
		id := UniqueName("nothing")
		if _, err := s.Get(c, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		if ok, err := s.Transition(c, id, []media.Status{media.Pending}, media.Result{Status: media.Processing}); ok || !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Transition(missing) = %v, %v; want false, ErrNotFound", ok, err)
		}
		if ok, err := s.Transition(c, id, nil, media.Result{Status: media.Processing}); ok || !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Transition(missing, from none) = %v, %v; want false, ErrNotFound", ok, err)
		}
	})

	t.Run("get many", func(t *testing.T) {
		s, c := migrated(t, open)
		var ids []string
		want := map[string]media.Media{}
		for i := range 3 {
			m := pending(UniqueName("m"))
			m.Filename = fmt.Sprintf("f%d.png", i)
			m.Variants = []media.Variant{{Name: "thumbnail", Key: m.ID + "/thumb", ContentType: "image/webp", Width: i + 1, Height: i + 2, Size: int64(i)}}
			create(t, s, c, m)
			ids = append(ids, m.ID)
			want[m.ID] = m
		}
		missing := UniqueName("missing")
		got, err := s.GetMany(c, []string{ids[2], missing, ids[0], ids[2], ids[1]})
		if err != nil {
			t.Fatalf("GetMany: %v", err)
		}
		if len(got) != len(want) {
			t.Errorf("GetMany returned %d items, want %d", len(got), len(want))
		}
		if _, ok := got[missing]; ok {
			t.Errorf("GetMany has the unknown ID %s", missing)
		}
		for id, w := range want {
			if g, ok := got[id]; !ok || !sameMedia(g, w) {
				t.Errorf("GetMany[%s] = %+v (present: %v), want %+v", id, g, ok, w)
			}
		}
		// No IDs asks nothing: even a cancelled context succeeds.
		done, cancel := context.WithCancel(c)
		cancel()
		for _, in := range [][]string{nil, {}} {
			if none, err := s.GetMany(done, in); err != nil || none == nil || len(none) != 0 {
				t.Errorf("GetMany(%#v) = %#v, %v; want an empty map", in, none, err)
			}
		}
	})

	t.Run("transitions", func(t *testing.T) {
		s, c := migrated(t, open)
		m := pending(UniqueName("m"))
		create(t, s, c, m)

		before := time.Now().Add(-time.Second)
		transition(t, s, c, m.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing}, true)
		got := get(t, s, c, m.ID)
		if got.Status != media.Processing || got.ContentType != "image/png" || !sameTime(got.CreatedAt, created) ||
			got.UpdatedAt.Before(before) || got.UpdatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("after PENDING → PROCESSING: %+v; want PROCESSING, the content type kept, updated about now", got)
		}
		// A retried CompleteUpload finds it already PROCESSING.
		transition(t, s, c, m.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing}, false)

		ready := media.Result{
			Status: media.Ready, ContentType: "image/jpeg", Width: 4032, Height: 3024, Duration: 1500 * time.Millisecond,
			Variants: []media.Variant{
				{Name: "thumbnail", Key: "media/" + m.ID + "/thumbnail.webp", ContentType: "image/webp", Width: 256, Height: 192, Size: 9000},
				{Name: "large", Key: "media/" + m.ID + "/large.webp", ContentType: "image/webp", Width: 2048, Height: 1536, Size: 420000},
			},
		}
		transition(t, s, c, m.ID, []media.Status{media.Pending, media.Processing}, ready, true)
		want := m
		want.Status, want.ContentType, want.Width, want.Height, want.Duration, want.Variants =
			media.Ready, ready.ContentType, ready.Width, ready.Height, ready.Duration, ready.Variants
		got = get(t, s, c, m.ID)
		want.UpdatedAt = got.UpdatedAt
		if !sameMedia(got, want) || got.UpdatedAt.Before(before) {
			t.Fatalf("after PROCESSING → READY:\n%+v\nwant\n%+v", got, want)
		}

		// Never backwards: a late retry of the pipeline's first step.
		transition(t, s, c, m.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing}, false)
		transition(t, s, c, m.ID, []media.Status{media.Processing}, media.Result{Status: media.Processing}, false)
		transition(t, s, c, m.ID, nil, media.Result{Status: media.Failed, FailureReason: "x"}, false)
		if again := get(t, s, c, m.ID); !sameMedia(again, got) {
			t.Fatalf("a refused transition changed the item:\n%+v\nwas\n%+v", again, got)
		}

		// FAILED records the reason; the content type is kept when not given.
		f := pending(UniqueName("m"))
		create(t, s, c, f)
		transition(t, s, c, f.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing}, true)
		transition(t, s, c, f.ID, []media.Status{media.Processing}, media.Result{Status: media.Failed, FailureReason: "unsupported format: image/x-foo"}, true)
		got = get(t, s, c, f.ID)
		if got.Status != media.Failed || got.FailureReason != "unsupported format: image/x-foo" || got.ContentType != "image/png" || got.Variants != nil {
			t.Fatalf("after PROCESSING → FAILED: %+v", got)
		}
		transition(t, s, c, f.ID, []media.Status{media.Processing}, ready, false)
	})

	t.Run("concurrent transitions apply once", func(t *testing.T) {
		s, c := migrated(t, open)
		m := pending(UniqueName("m"))
		create(t, s, c, m)
		const n = 10
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = s.Transition(c, m.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing, FailureReason: fmt.Sprint(i)})
			})
		}
		wg.Wait()
		winner := -1
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Transition #%d: %v", i, errs[i])
			}
			if results[i] {
				if winner >= 0 {
					t.Errorf("Transitions #%d and #%d both applied", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("no transition applied")
		}
		if got := get(t, s, c, m.ID); got.Status != media.Processing || got.FailureReason != fmt.Sprint(winner) {
			t.Fatalf("Get = %+v; want PROCESSING written by #%d", got, winner)
		}
	})

	t.Run("scan lists every item once", func(t *testing.T) {
		s, c := migrated(t, open)
		if got, next, err := s.ScanMedia(c, "", 10); err != nil || len(got) != 0 || next != "" {
			t.Fatalf("ScanMedia of an empty store = %v, %q, %v", got, next, err)
		}
		want := map[string]media.Media{}
		for i := range 5 {
			m := pending(UniqueName("m"))
			if i%2 == 0 {
				m.Status = media.Ready
			}
			create(t, s, c, m)
			want[m.ID] = m
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			page, next, err := s.ScanMedia(c, cursor, 2)
			if err != nil {
				t.Fatalf("ScanMedia(%q): %v", cursor, err)
			}
			if pages++; pages > 10 || len(page) > 2 {
				t.Fatalf("ScanMedia: page %d has %d items", pages, len(page))
			}
			for _, m := range page {
				if seen[m.ID] {
					t.Errorf("ScanMedia listed %s twice", m.ID)
				}
				seen[m.ID] = true
				if !sameMedia(m, want[m.ID]) {
					t.Errorf("ScanMedia = %+v, want %+v", m, want[m.ID])
				}
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if len(seen) != len(want) {
			t.Errorf("ScanMedia listed %d items, want %d", len(seen), len(want))
		}
	})

	t.Run("delete", func(t *testing.T) {
		s, c := migrated(t, open)
		m, keep := pending(UniqueName("m")), pending(UniqueName("m"))
		create(t, s, c, m)
		create(t, s, c, keep)
		if err := s.Delete(c, m.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(c, m.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(c, m.ID); err != nil {
			t.Fatalf("Delete again = %v, want nil", err)
		}
		if ok, err := s.Transition(c, m.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing}); ok || !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Transition after Delete = %v, %v; want false, ErrNotFound", ok, err)
		}
		if got := get(t, s, c, keep.ID); !sameMedia(got, keep) {
			t.Fatalf("Delete touched another item: %+v", got)
		}
		// The ID is free again.
		create(t, s, c, m)
	})
}

// sameTime compares times at the precision every engine keeps (milliseconds).
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// sameMedia compares items field by field, times at millisecond precision; a
// zero UpdatedAt in want stands for CreatedAt.
func sameMedia(got, want media.Media) bool {
	if want.UpdatedAt.IsZero() {
		want.UpdatedAt = want.CreatedAt
	}
	if !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.UpdatedAt, want.UpdatedAt) {
		return false
	}
	if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		return false
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(want.Variants) == 0 {
		want.Variants = nil
	}
	return reflect.DeepEqual(got, want)
}

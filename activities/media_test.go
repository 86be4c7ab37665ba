package activities

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	blobfile "github.com/ejazz/ejazz/internal/blob/file"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/media/mediatest"
	mediasqlite "github.com/ejazz/ejazz/internal/media/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
)

type mediaFixture struct {
	a      *Media
	events *event.Recorder
	env    *testsuite.TestActivityEnvironment
}

func newMediaFixture(t *testing.T) *mediaFixture {
	t.Helper()
	st := mediasqlite.New(storetest.SQLite(t))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := &mediaFixture{events: &event.Recorder{}}
	f.a = &Media{Store: st, Blobs: blobfile.New(t.TempDir()), Events: f.events, MaxImageBytes: 20 << 20, MaxVideoBytes: 200 << 20}
	var ts testsuite.WorkflowTestSuite
	f.env = ts.NewTestActivityEnvironment()
	f.env.RegisterActivity(f.a)
	return f
}

// uploaded records a PENDING item whose bytes are in the blob store.
func (f *mediaFixture) uploaded(t *testing.T, id, contentType string, data []byte) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	if err := f.a.Store.Create(ctx, media.Media{ID: id, OwnerID: "owner", Status: media.Pending, DeclaredType: contentType,
		ContentType: contentType, Size: int64(len(data)), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Blobs.Put(ctx, media.UploadKey(id), contentType, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func (f *mediaFixture) process(t *testing.T, id string) MediaOutcome {
	t.Helper()
	v, err := f.env.ExecuteActivity(f.a.ProcessMedia, id)
	if err != nil {
		t.Fatalf("ProcessMedia: %v", err)
	}
	var out MediaOutcome
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A retried or duplicated run (a worker killed after writing variants, the
// activity retried elsewhere) converges: same keys, one READY transition,
// one event.
func TestProcessMediaIsIdempotent(t *testing.T) {
	f := newMediaFixture(t)
	photo := mediatest.JPEG(t, mediatest.Photo(800, 600, 3), 85)
	f.uploaded(t, "m1", "image/jpeg", photo)
	var wg sync.WaitGroup
	outs := make([]MediaOutcome, 2)
	for i := range outs {
		wg.Go(func() { outs[i] = f.process(t, "m1") })
	}
	wg.Wait()
	for _, o := range outs {
		if o.FailureReason != "" {
			t.Fatalf("outcome %+v, want READY", o)
		}
	}
	first, err := f.a.Store.Get(context.Background(), "m1")
	if err != nil || first.Status != media.Ready || len(first.Variants) != 3 {
		t.Fatalf("after two runs: %+v, %v", first, err)
	}
	if out := f.process(t, "m1"); out.FailureReason != "" {
		t.Fatalf("third run on READY = %+v", out)
	}
	again, _ := f.a.Store.Get(context.Background(), "m1")
	if !slices.Equal(media.Keys(first), media.Keys(again)) {
		t.Fatalf("keys changed between runs: %v → %v", media.Keys(first), media.Keys(again))
	}
	for _, k := range media.Keys(again) {
		if _, err := f.a.Blobs.Stat(context.Background(), k); err != nil {
			t.Errorf("object %s: %v", k, err)
		}
	}
	evs := f.events.Events()
	if len(evs) != 1 || evs[0].Kind != event.MediaUploaded || evs[0].Bytes != int64(len(photo)) || evs[0].MediaID != "m1" {
		t.Fatalf("events %+v, want one media_upload of %d bytes", evs, len(photo))
	}
}

func TestProcessMediaRefusesMismatchesWithAReason(t *testing.T) {
	f := newMediaFixture(t)
	png := mediatest.PNG(t, mediatest.Photo(40, 30, 4))
	f.uploaded(t, "png-as-jpeg", "image/jpeg", png)
	if out := f.process(t, "png-as-jpeg"); out.FailureReason != "declared image/jpeg but the file is image/png" {
		t.Fatalf("outcome %+v", out)
	}
	m, _ := f.a.Store.Get(context.Background(), "png-as-jpeg")
	if m.Status != media.Failed || m.FailureReason == "" {
		t.Fatalf("item %+v, want FAILED with its reason", m)
	}
	// The declared size is checked against the object.
	f.uploaded(t, "short", "image/png", png)
	if err := f.a.Blobs.Put(context.Background(), media.UploadKey("short"), "image/png", bytes.NewReader(png[:10]), 10); err != nil {
		t.Fatal(err)
	}
	if out := f.process(t, "short"); out.FailureReason == "" {
		t.Fatal("a size mismatch was processed")
	}
	if len(f.events.Events()) != 0 {
		t.Fatalf("events for refused uploads: %v", f.events.Events())
	}
}

func TestExpireUploadRemovesOnlyPendingItems(t *testing.T) {
	f := newMediaFixture(t)
	ctx := context.Background()
	data := mediatest.PNG(t, mediatest.Photo(10, 10, 5))
	f.uploaded(t, "stale", "image/png", data)
	f.uploaded(t, "done", "image/png", data)
	f.process(t, "done")
	for _, id := range []string{"stale", "done", "never-existed"} {
		if _, err := f.env.ExecuteActivity(f.a.ExpireUpload, id); err != nil {
			t.Fatalf("ExpireUpload(%s): %v", id, err)
		}
	}
	if _, err := f.a.Store.Get(ctx, "stale"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("stale upload row: %v", err)
	}
	if _, err := f.a.Blobs.Stat(ctx, media.UploadKey("stale")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("stale upload object: %v", err)
	}
	if m, err := f.a.Store.Get(ctx, "done"); err != nil || m.Status != media.Ready {
		t.Errorf("processed item after expiry: %+v, %v", m, err)
	}
}

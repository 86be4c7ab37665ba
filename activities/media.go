package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/media/process"
	"github.com/ejazz/ejazz/internal/storage"
)

// Media are the media pipeline's activities.
type Media struct {
	Store media.Store
	Blobs blob.Store
	// Events receive MediaUploaded once an item is READY (may be nil).
	Events event.Publisher
	// Limits bound decoding (pixels, video duration); MaxImageBytes and
	// MaxVideoBytes bound what is read into memory or a temporary file.
	Limits                       process.Limits
	MaxImageBytes, MaxVideoBytes int64
	// ImageSpecs and VideoSpecs are the variants (nil: process.DefaultSpecs
	// and process.VideoSpecs).
	ImageSpecs, VideoSpecs []process.Spec
	// TempDir holds videos while ffmpeg reads them ("" = os.TempDir()).
	TempDir string
}

// MediaOutcome is what ProcessMedia decided: FailureReason is set when the
// content was refused (the item is FAILED), empty when it is READY.
type MediaOutcome struct {
	FailureReason string `json:",omitempty"`
}

// heartbeat records a heartbeat every few seconds until stop is called, so a
// long decode or ffmpeg run is not taken for a dead worker, while a killed
// worker is noticed within the heartbeat timeout.
func heartbeat(ctx context.Context, step *string) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, *step)
			}
		}
	}()
	return func() { close(done) }
}

// ProcessMedia turns an upload into variants and marks the item READY, or
// FAILED with a client-safe reason when the content is refused (wrong size or
// type, corrupt, too many pixels, trailing data, …). Errors it returns are
// transient (storage unavailable) and retried by the workflow. Idempotent:
// items already READY or FAILED are left alone, variant keys are derived
// from their bytes and the final transition is conditional.
func (a *Media) ProcessMedia(ctx context.Context, id string) (MediaOutcome, error) {
	step := "load"
	defer heartbeat(ctx, &step)()
	m, err := a.Store.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return MediaOutcome{FailureReason: "media deleted"}, nil
	}
	if err != nil {
		return MediaOutcome{}, err
	}
	switch m.Status {
	case media.Ready:
		return MediaOutcome{}, nil
	case media.Failed:
		return MediaOutcome{FailureReason: m.FailureReason}, nil
	case media.Pending:
		if _, err := a.Store.Transition(ctx, id, []media.Status{media.Pending}, media.Result{Status: media.Processing}); err != nil {
			return MediaOutcome{}, err
		}
	}

	step = "decode"
	res, err := a.decode(ctx, m)
	var rej *process.Rejection
	if errors.As(err, &rej) {
		return MediaOutcome{FailureReason: rej.Reason}, a.FailMedia(ctx, id, rej.Reason)
	}
	if err != nil {
		return MediaOutcome{}, err
	}

	step = "store"
	variants := make([]media.Variant, 0, len(res.Variants))
	for _, v := range res.Variants {
		key := media.VariantKey(id, v.Name, v.ContentType, v.Data)
		if err := a.Blobs.Put(ctx, key, v.ContentType, bytes.NewReader(v.Data), int64(len(v.Data))); err != nil {
			return MediaOutcome{}, err
		}
		variants = append(variants, media.Variant{Name: v.Name, Key: key, ContentType: v.ContentType, Width: v.Width, Height: v.Height, Size: int64(len(v.Data))})
	}
	ok, err := a.Store.Transition(ctx, id, []media.Status{media.Processing}, media.Result{
		Status: media.Ready, ContentType: res.ContentType, Width: res.Width, Height: res.Height, Duration: res.Duration, Variants: variants,
	})
	if errors.Is(err, storage.ErrNotFound) {
		// Deleted while processing: remove what this run wrote.
		for _, v := range variants {
			if err := a.Blobs.Delete(ctx, v.Key); err != nil {
				return MediaOutcome{}, err
			}
		}
		return MediaOutcome{FailureReason: "media deleted"}, nil
	}
	if err != nil {
		return MediaOutcome{}, err
	}
	if !ok {
		cur, err := a.Store.Get(ctx, id)
		if err != nil {
			return MediaOutcome{}, err
		}
		return MediaOutcome{FailureReason: cur.FailureReason}, nil
	}
	if a.Events != nil {
		if err := a.Events.Publish(ctx, event.NewMedia(event.MediaUploaded, m.OwnerID, id, m.Size, time.Now())); err != nil {
			activity.GetLogger(ctx).Warn("media event not published", "media", id, "err", err)
		}
	}
	return MediaOutcome{}, nil
}

// decode reads the upload, checks it against what was declared and runs the
// image or video processing.
func (a *Media) decode(ctx context.Context, m media.Media) (process.Result, error) {
	info, err := a.Blobs.Stat(ctx, media.UploadKey(m.ID))
	if errors.Is(err, storage.ErrNotFound) {
		return process.Result{}, &process.Rejection{Reason: "nothing was uploaded"}
	}
	if err != nil {
		return process.Result{}, err
	}
	if info.Size != m.Size {
		return process.Result{}, &process.Rejection{Reason: fmt.Sprintf("uploaded %d bytes but declared %d", info.Size, m.Size)}
	}
	rc, _, err := a.Blobs.Get(ctx, media.UploadKey(m.ID))
	if err != nil {
		return process.Result{}, err
	}
	defer rc.Close()
	lim := a.Limits
	if !media.IsVideo(m.DeclaredType) {
		lim.MaxBytes = a.MaxImageBytes
		data, err := io.ReadAll(io.LimitReader(rc, m.Size+1))
		if err != nil {
			return process.Result{}, err
		}
		if err := sameType(m.DeclaredType, data); err != nil {
			return process.Result{}, err
		}
		return process.Image(data, lim, a.ImageSpecs)
	}
	f, err := os.CreateTemp(a.TempDir, "ejazz-video-*")
	if err != nil {
		return process.Result{}, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, io.LimitReader(rc, m.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return process.Result{}, err
	}
	head := make([]byte, 512)
	if hf, err := os.Open(f.Name()); err == nil {
		n, _ := io.ReadFull(hf, head)
		head = head[:n]
		_ = hf.Close()
	}
	if err := sameType(m.DeclaredType, head); err != nil {
		return process.Result{}, err
	}
	lim.MaxBytes = a.MaxVideoBytes
	return process.Video(ctx, f.Name(), lim, a.VideoSpecs)
}

// sameType refuses content whose real type is not the declared one.
func sameType(declared string, data []byte) error {
	real := process.Sniff(data[:min(len(data), 512)])
	if real == declared {
		return nil
	}
	if !slices.Contains(media.ImageTypes, real) && !slices.Contains(media.VideoTypes, real) {
		return &process.Rejection{Reason: fmt.Sprintf("declared %s but the file is %s, which is not a supported image or video", declared, real)}
	}
	return &process.Rejection{Reason: fmt.Sprintf("declared %s but the file is %s", declared, real)}
}

// FailMedia marks an item FAILED with reason (unless it already finished).
func (a *Media) FailMedia(ctx context.Context, id, reason string) error {
	_, err := a.Store.Transition(ctx, id, []media.Status{media.Pending, media.Processing}, media.Result{Status: media.Failed, FailureReason: reason})
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// ExpireUpload removes an upload that was never completed: its object and its
// row. Items that moved on (the client completed at the last moment) stay.
func (a *Media) ExpireUpload(ctx context.Context, id string) error {
	m, err := a.Store.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil || m.Status != media.Pending {
		return err
	}
	return a.Remove(ctx, m)
}

// Remove deletes an item's objects and row.
func (a *Media) Remove(ctx context.Context, m media.Media) error {
	return media.Remove(ctx, a.Store, a.Blobs, m)
}

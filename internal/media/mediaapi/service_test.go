package mediaapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	mediav1 "github.com/ejazz/ejazz/gen/ejazz/media/v1"
	"github.com/ejazz/ejazz/gen/ejazz/media/v1/mediav1connect"
	"github.com/ejazz/ejazz/internal/auth"
	blobfile "github.com/ejazz/ejazz/internal/blob/file"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/media/mediaapi"
	mediasqlite "github.com/ejazz/ejazz/internal/media/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/workflows"
)

const testUserHeader = "X-Test-User"

type env struct {
	client   mediav1connect.MediaServiceClient
	store    media.Store
	blobs    *blobfile.Store
	temporal *mocks.Client
	started  []string
	signals  []string
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{temporal: mocks.NewClient(t)}
	e.store = mediasqlite.New(storetest.SQLite(t))
	if err := e.store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.blobs = blobfile.New(t.TempDir())
	svc := &mediaapi.Service{Store: e.store, Blobs: e.blobs, Temporal: e.temporal, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxImageBytes: 20 << 20, MaxVideoBytes: 200 << 20, UploadTTL: 15 * time.Minute, PendingTTL: 24 * time.Hour, URLTTL: time.Hour}
	mux := http.NewServeMux()
	mux.Handle(mediav1connect.NewMediaServiceHandler(svc))
	mux.Handle(blobfile.PathPrefix, e.blobs.Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(testUserHeader); id != "" {
			r = r.WithContext(auth.WithCaller(r.Context(), auth.Caller{UserID: id}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.blobs.WithURLs(srv.URL, []byte("0123456789abcdef0123456789abcdef"))
	e.client = mediav1connect.NewMediaServiceClient(http.DefaultClient, srv.URL)
	return e
}

func (e *env) temporalUp() {
	e.temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Maybe().Return(
		func(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
			e.started = append(e.started, o.ID)
			return nil, nil
		})
	e.temporal.On("SignalWithStartWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Maybe().Return(
		func(_ context.Context, id, signal string, _ any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
			e.signals = append(e.signals, id+" "+signal)
			return nil, nil
		})
}

func as[T any](userID string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if userID != "" {
		req.Header().Set(testUserHeader, userID)
	}
	return req
}

func wantCode(t *testing.T, err error, code connect.Code, field string) {
	t.Helper()
	if err == nil || connect.CodeOf(err) != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	if field != "" && !strings.Contains(err.Error(), field) {
		t.Fatalf("error %q does not name %q", err, field)
	}
}

func put(t *testing.T, res *mediav1.CreateUploadResponse, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(res.GetUploadMethod(), res.GetUploadUrl(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range res.GetUploadHeaders() {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestAnonymousCallsAreUnauthenticated(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	_, err := e.client.CreateUpload(ctx, as("", &mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 10}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.CompleteUpload(ctx, as("", &mediav1.CompleteUploadRequest{MediaId: "m"}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.GetMedia(ctx, as("", &mediav1.GetMediaRequest{MediaId: "m"}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.BatchGetMedia(ctx, as("", &mediav1.BatchGetMediaRequest{MediaIds: []string{"m"}}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	_, err = e.client.DeleteMedia(ctx, as("", &mediav1.DeleteMediaRequest{MediaId: "m"}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
}

func TestCreateUploadValidates(t *testing.T) {
	e := setup(t)
	for _, c := range []struct {
		name  string
		req   *mediav1.CreateUploadRequest
		field string
	}{
		{"html", &mediav1.CreateUploadRequest{ContentType: "text/html", SizeBytes: 10}, "content_type"},
		{"svg", &mediav1.CreateUploadRequest{ContentType: "image/svg+xml", SizeBytes: 10}, "content_type"},
		{"no type", &mediav1.CreateUploadRequest{SizeBytes: 10}, "content_type"},
		{"zero size", &mediav1.CreateUploadRequest{ContentType: "image/png"}, "size_bytes"},
		{"negative size", &mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: -1}, "size_bytes"},
		{"image too big", &mediav1.CreateUploadRequest{ContentType: "image/jpeg", SizeBytes: 20<<20 + 1}, "size_bytes"},
		{"video too big", &mediav1.CreateUploadRequest{ContentType: "video/mp4", SizeBytes: 200<<20 + 1}, "size_bytes"},
		{"long filename", &mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 10, Filename: strings.Repeat("a", 256)}, "filename"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client.CreateUpload(context.Background(), as("u1", c.req))
			wantCode(t, err, connect.CodeInvalidArgument, c.field)
		})
	}
	if len(e.started) != 0 {
		t.Fatalf("workflows started for refused uploads: %v", e.started)
	}
}

func TestUploadLifecycleAndOwnership(t *testing.T) {
	e := setup(t)
	e.temporalUp()
	ctx := context.Background()
	body := []byte("\x89PNG\r\n\x1a\n0123456789")
	res, err := e.client.CreateUpload(ctx, as("owner", &mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: int64(len(body)), Filename: "cat.png"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetMediaId()
	if want := workflows.MediaPipelineWorkflowID(id); len(e.started) != 1 || e.started[0] != want {
		t.Fatalf("started %v, want [%s]", e.started, want)
	}
	if res.Msg.GetExpiresAt().AsTime().Before(time.Now().Add(14*time.Minute)) || res.Msg.GetUploadMethod() != "PUT" {
		t.Fatalf("upload grant = %v", res.Msg)
	}

	// Before the bytes: failed_precondition; strangers: not_found.
	_, err = e.client.CompleteUpload(ctx, as("owner", &mediav1.CompleteUploadRequest{MediaId: id}))
	wantCode(t, err, connect.CodeFailedPrecondition, "upload")
	_, err = e.client.CompleteUpload(ctx, as("stranger", &mediav1.CompleteUploadRequest{MediaId: id}))
	wantCode(t, err, connect.CodeNotFound, "media_id")
	_, err = e.client.CompleteUpload(ctx, as("owner", &mediav1.CompleteUploadRequest{MediaId: "no-such-media"}))
	wantCode(t, err, connect.CodeNotFound, "media_id")
	_, err = e.client.GetMedia(ctx, as("stranger", &mediav1.GetMediaRequest{MediaId: id}))
	wantCode(t, err, connect.CodeNotFound, "media_id")
	if got, err := e.client.GetMedia(ctx, as("owner", &mediav1.GetMediaRequest{MediaId: id})); err != nil || got.Msg.GetMedia().GetStatus() != mediav1.MediaStatus_MEDIA_STATUS_PENDING {
		t.Fatalf("owner GetMedia = %v, %v; want PENDING", got, err)
	}

	// A different length is refused by the URL; the declared one lands.
	if code := put(t, res.Msg, append(bytes.Clone(body), 'x')); code == http.StatusOK {
		t.Fatal("upload of another length accepted")
	}
	if code := put(t, res.Msg, body); code != http.StatusOK {
		t.Fatalf("upload = %d", code)
	}
	done, err := e.client.CompleteUpload(ctx, as("owner", &mediav1.CompleteUploadRequest{MediaId: id}))
	if err != nil || done.Msg.GetMedia().GetStatus() != mediav1.MediaStatus_MEDIA_STATUS_PROCESSING {
		t.Fatalf("CompleteUpload = %v, %v; want PROCESSING", done, err)
	}
	if _, err := e.client.CompleteUpload(ctx, as("owner", &mediav1.CompleteUploadRequest{MediaId: id})); err != nil {
		t.Fatalf("second CompleteUpload: %v", err)
	}
	if want := workflows.MediaPipelineWorkflowID(id) + " " + workflows.SignalUploadComplete; len(e.signals) != 1 || e.signals[0] != want {
		t.Fatalf("signals %v, want [%s]", e.signals, want)
	}

	// READY media is visible to anyone signed in, with fetchable variants.
	thumb := []byte("thumbnail bytes")
	key := media.VariantKey(id, "thumbnail", "image/jpeg", thumb)
	if err := e.blobs.Put(ctx, key, "image/jpeg", bytes.NewReader(thumb), int64(len(thumb))); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.Transition(ctx, id, []media.Status{media.Processing}, media.Result{Status: media.Ready, Width: 10, Height: 20,
		Variants: []media.Variant{{Name: "thumbnail", Key: key, ContentType: "image/jpeg", Width: 10, Height: 10, Size: int64(len(thumb))}}}); !ok || err != nil {
		t.Fatalf("Transition = %v, %v", ok, err)
	}
	got, err := e.client.GetMedia(ctx, as("stranger", &mediav1.GetMediaRequest{MediaId: id}))
	if err != nil || len(got.Msg.GetMedia().GetVariants()) != 1 {
		t.Fatalf("stranger GetMedia of READY = %v, %v", got, err)
	}
	resp, err := http.Get(got.Msg.GetMedia().GetVariants()[0].GetUrl())
	if err != nil {
		t.Fatal(err)
	}
	fetched, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !bytes.Equal(fetched, thumb) {
		t.Fatalf("variant URL served %q, want %q", fetched, thumb)
	}
	batch, err := e.client.BatchGetMedia(ctx, as("stranger", &mediav1.BatchGetMediaRequest{MediaIds: []string{"unknown", id}}))
	if err != nil || len(batch.Msg.GetMedia()) != 1 || batch.Msg.GetMedia()[0].GetMediaId() != id {
		t.Fatalf("BatchGetMedia = %v, %v", batch, err)
	}
	_, err = e.client.BatchGetMedia(ctx, as("stranger", &mediav1.BatchGetMediaRequest{MediaIds: make([]string, 101)}))
	wantCode(t, err, connect.CodeInvalidArgument, "media_ids")

	// Only the owner deletes; deleting removes every object; twice is fine.
	_, err = e.client.DeleteMedia(ctx, as("stranger", &mediav1.DeleteMediaRequest{MediaId: id}))
	wantCode(t, err, connect.CodeNotFound, "media_id")
	for range 2 {
		if _, err := e.client.DeleteMedia(ctx, as("owner", &mediav1.DeleteMediaRequest{MediaId: id})); err != nil {
			t.Fatalf("DeleteMedia: %v", err)
		}
	}
	for _, k := range []string{key, media.UploadKey(id)} {
		if _, err := e.blobs.Stat(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("object %s after delete: %v", k, err)
		}
	}
	_, err = e.client.GetMedia(ctx, as("owner", &mediav1.GetMediaRequest{MediaId: id}))
	wantCode(t, err, connect.CodeNotFound, "media_id")
}

func TestCreateUploadWithTemporalDownLeavesNothing(t *testing.T) {
	e := setup(t)
	var tried string
	e.temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
			tried = strings.TrimPrefix(o.ID, "media:")
			if _, err := e.store.Get(context.Background(), tried); err != nil {
				t.Errorf("the row does not exist while the workflow starts: %v", err)
			}
			return nil, fmt.Errorf("connection refused")
		})
	_, err := e.client.CreateUpload(context.Background(), as("owner", &mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 10}))
	wantCode(t, err, connect.CodeUnavailable, "")
	if strings.Contains(err.Error(), "refused") {
		t.Fatalf("error leaks internals: %v", err)
	}
	// No row was left behind.
	if tried == "" {
		t.Fatal("no workflow start was attempted")
	}
	if _, err := e.store.Get(context.Background(), tried); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("row of the failed upload: %v, want not found", err)
	}
}

package app_test

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	mediav1 "github.com/ejazz/ejazz/gen/ejazz/media/v1"
	"github.com/ejazz/ejazz/gen/ejazz/media/v1/mediav1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/internal/media/mediatest"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// upload runs CreateUpload, sends the bytes to the presigned URL with a plain
// HTTP client (as an app would) and completes the upload.
func upload(ctx context.Context, t *testing.T, c mediav1connect.MediaServiceClient, m member, contentType string, data []byte) string {
	t.Helper()
	res, err := c.CreateUpload(ctx, by(m, &mediav1.CreateUploadRequest{ContentType: contentType, SizeBytes: int64(len(data)), Filename: "f"}))
	if err != nil {
		t.Fatalf("CreateUpload %s: %v", contentType, err)
	}
	if code := putBytes(t, res.Msg, data); code != http.StatusOK {
		t.Fatalf("upload to the presigned URL = %d", code)
	}
	if _, err := c.CompleteUpload(ctx, by(m, &mediav1.CompleteUploadRequest{MediaId: res.Msg.GetMediaId()})); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	return res.Msg.GetMediaId()
}

func putBytes(t testing.TB, grant *mediav1.CreateUploadResponse, data []byte) int {
	t.Helper()
	req, err := http.NewRequest(grant.GetUploadMethod(), grant.GetUploadUrl(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range grant.GetUploadHeaders() {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// settle polls GetMedia until the item is READY or FAILED.
func settle(ctx context.Context, t *testing.T, c mediav1connect.MediaServiceClient, m member, id string) *mediav1.Media {
	t.Helper()
	for {
		res, err := c.GetMedia(ctx, by(m, &mediav1.GetMediaRequest{MediaId: id}))
		if err != nil {
			t.Fatalf("GetMedia: %v", err)
		}
		if s := res.Msg.GetMedia().GetStatus(); s == mediav1.MediaStatus_MEDIA_STATUS_READY || s == mediav1.MediaStatus_MEDIA_STATUS_FAILED {
			return res.Msg.GetMedia()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("media %s still %v", id, res.Msg.GetMedia().GetStatus())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fetch(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mediaFlow drives MediaService end to end with real tokens: a photo with
// EXIF orientation and GPS goes through the presigned upload and the pipeline
// workflow; every variant is fetched from its URL, has the right dimensions
// and no metadata. Refused content ends FAILED with its reason; a video gets
// a poster; posts attach only the author's READY media; deleting removes the
// variants.
func mediaFlow(t *testing.T, base string, readMail mailReader) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := mediav1connect.NewMediaServiceClient(http.DefaultClient, base)
	posts := postv1connect.NewPostServiceClient(http.DefaultClient, base)
	ana := register(ctx, t, base, readMail, "ana")
	ben := register(ctx, t, base, readMail, "ben")

	// A 1600×1200 photo whose EXIF says "rotate 90°" and carries a GPS fix.
	photo := mediatest.WithEXIF(mediatest.JPEG(t, mediatest.Photo(1600, 1200, 1), 90), 6)
	if !bytes.Contains(photo, []byte(mediatest.GPSMarker)) {
		t.Fatal("fixture lacks its GPS marker")
	}
	id := upload(ctx, t, c, ana, "image/jpeg", photo)
	m := settle(ctx, t, c, ana, id)
	if m.GetStatus() != mediav1.MediaStatus_MEDIA_STATUS_READY {
		t.Fatalf("photo = %v (%s), want READY", m.GetStatus(), m.GetFailureReason())
	}
	if m.GetWidth() != 1200 || m.GetHeight() != 1600 || m.GetContentType() != "image/jpeg" {
		t.Errorf("photo = %dx%d %s, want 1200x1600 image/jpeg (auto-oriented)", m.GetWidth(), m.GetHeight(), m.GetContentType())
	}
	want := map[string][2]int{"thumbnail": {150, 150}, "medium": {480, 640}, "large": {960, 1280}}
	var variantURLs []string
	for _, v := range m.GetVariants() {
		code, body := fetch(t, v.GetUrl())
		if code != http.StatusOK {
			t.Fatalf("variant %s: GET = %d", v.GetName(), code)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("variant %s does not decode: %v", v.GetName(), err)
		}
		if d, ok := want[v.GetName()]; !ok || cfg.Width != d[0] || cfg.Height != d[1] || int(v.GetWidth()) != d[0] || int(v.GetHeight()) != d[1] {
			t.Errorf("variant %s (%s) = %dx%d (says %dx%d), want %v", v.GetName(), format, cfg.Width, cfg.Height, v.GetWidth(), v.GetHeight(), d)
		}
		if bytes.Contains(body, []byte("Exif")) || bytes.Contains(body, []byte(mediatest.GPSMarker)) {
			t.Errorf("variant %s still carries EXIF/GPS", v.GetName())
		}
		delete(want, v.GetName())
		variantURLs = append(variantURLs, v.GetUrl())
	}
	if len(want) != 0 {
		t.Errorf("missing variants %v", want)
	}
	// READY media is visible to others; someone else's is not theirs to change.
	if _, err := c.GetMedia(ctx, by(ben, &mediav1.GetMediaRequest{MediaId: id})); err != nil {
		t.Errorf("ben GetMedia(ready) = %v", err)
	}
	if _, err := c.DeleteMedia(ctx, by(ben, &mediav1.DeleteMediaRequest{MediaId: id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("ben DeleteMedia(ana's) = %v, want not_found", err)
	}
	if _, err := c.CompleteUpload(ctx, by(ana, &mediav1.CompleteUploadRequest{MediaId: "no-such-media"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("CompleteUpload(unknown) = %v, want not_found", err)
	}

	// Posts attach the author's READY media only.
	p, err := posts.CreatePost(ctx, by(ana, &postv1.CreatePostRequest{Text: "look", MediaIds: []string{id}}))
	if err != nil {
		t.Fatalf("CreatePost with media: %v", err)
	}
	if got := p.Msg.GetPost().GetMedia(); len(got) != 1 || got[0].GetMediaId() != id || len(got[0].GetVariants()) != 3 {
		t.Errorf("post media = %v", got)
	}
	if _, err := posts.CreatePost(ctx, by(ben, &postv1.CreatePostRequest{Text: "mine?", MediaIds: []string{id}})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("CreatePost with someone else's media = %v, want not_found", err)
	}
	pending, err := c.CreateUpload(ctx, by(ana, &mediav1.CreateUploadRequest{ContentType: "image/png", SizeBytes: 100}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := posts.CreatePost(ctx, by(ana, &postv1.CreatePostRequest{Text: "soon", MediaIds: []string{pending.Msg.GetMediaId()}})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("CreatePost with PENDING media = %v, want failed_precondition", err)
	}
	if _, err := c.CompleteUpload(ctx, by(ana, &mediav1.CompleteUploadRequest{MediaId: pending.Msg.GetMediaId()})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("CompleteUpload before the upload = %v, want failed_precondition", err)
	}
	if code := putBytes(t, pending.Msg, make([]byte, 99)); code == http.StatusOK {
		t.Errorf("upload of another size than declared accepted")
	}

	// Refused content: each ends FAILED with its reason.
	png := mediatest.PNG(t, mediatest.Photo(64, 48, 2))
	for _, bad := range []struct {
		name, contentType string
		data              []byte
		reason            string
	}{
		{"png declared as jpeg", "image/jpeg", png, "image/png"},
		{"html declared as png", "image/png", []byte("<html><script>alert(1)</script></html>"), "text/html"},
		{"truncated jpeg", "image/jpeg", photo[:len(photo)/2], "corrupt"},
		{"decompression bomb", "image/png", mediatest.PNGBomb(t, 20000, 20000), "megapixel"},
		{"polyglot", "image/png", append(bytes.Clone(png), "<script>alert(1)</script>"...), "after the end"},
	} {
		id := upload(ctx, t, c, ana, bad.contentType, bad.data)
		m := settle(ctx, t, c, ana, id)
		if m.GetStatus() != mediav1.MediaStatus_MEDIA_STATUS_FAILED || !strings.Contains(m.GetFailureReason(), bad.reason) {
			t.Errorf("%s: %v %q, want FAILED naming %q", bad.name, m.GetStatus(), m.GetFailureReason(), bad.reason)
		}
	}

	// A video gets a poster frame and a thumbnail.
	video := mediatest.Video(t, "clip.mp4")
	vid := upload(ctx, t, c, ana, "video/mp4", video)
	if vm := settle(ctx, t, c, ana, vid); vm.GetStatus() != mediav1.MediaStatus_MEDIA_STATUS_READY || vm.GetWidth() != 320 || vm.GetHeight() != 240 {
		t.Errorf("video = %v %dx%d (%s), want READY 320x240", vm.GetStatus(), vm.GetWidth(), vm.GetHeight(), vm.GetFailureReason())
	} else {
		names := map[string]bool{}
		for _, v := range vm.GetVariants() {
			names[v.GetName()] = true
			if code, _ := fetch(t, v.GetUrl()); code != http.StatusOK {
				t.Errorf("video variant %s: GET = %d", v.GetName(), code)
			}
		}
		if !names["poster"] || !names["thumbnail"] {
			t.Errorf("video variants = %v, want poster and thumbnail", names)
		}
	}

	// Deleting removes the variants; deleting twice succeeds.
	for range 2 {
		if _, err := c.DeleteMedia(ctx, by(ana, &mediav1.DeleteMediaRequest{MediaId: id})); err != nil {
			t.Fatalf("DeleteMedia: %v", err)
		}
	}
	for _, u := range variantURLs {
		if code, _ := fetch(t, u); code == http.StatusOK {
			t.Errorf("variant still served after delete: %s", u)
		}
	}
	if _, err := c.GetMedia(ctx, by(ana, &mediav1.GetMediaRequest{MediaId: id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetMedia after delete = %v, want not_found", err)
	}
}

func TestDevMedia(t *testing.T) {
	cfg := devConfig(t)
	cfg.HTTP.Addr = freeAddr(t)
	cfg.HTTP.PublicURL = "http://" + cfg.HTTP.Addr // signed blob URLs point here
	r, stop := startDev(t, cfg)
	defer stop()
	base := "http://" + r.HTTPAddr
	mediaFlow(t, base, devMail(base))
}

// TestScaleMedia runs the media flow with the media worker and the API as
// separate processes on PostgreSQL, S3 (versitygw) and Temporal.
func TestScaleMedia(t *testing.T) {
	cfg := scaleConfig(t, "EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_SMTP_ADDR", "EJAZZ_S3_ENDPOINT")
	base, _ := startScale(t, cfg, []string{workflows.QueueAccounts, workflows.QueueMedia}, []string{"auth", "post", "media"})
	mediaFlow(t, base, mailpit(testenv.Require(t, "EJAZZ_MAILPIT_URL")))
}

package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testsrc = []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2"}

func TestVideo(t *testing.T) {
	tests := []struct {
		name, file, wantType string
		args                 []string
	}{
		{"mp4", "out.mp4", "video/mp4", []string{"-pix_fmt", "yuv420p"}},
		{"webm", "out.webm", "video/webm", []string{"-c:v", "libvpx-vp9", "-b:v", "200k"}},
		{"quicktime", "out.mov", "video/quicktime", []string{"-pix_fmt", "yuv420p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ffmpegFile(t, tt.file, append(append([]string{}, testsrc...), tt.args...)...)
			res, err := Video(context.Background(), path, Limits{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != tt.wantType || res.Width != 320 || res.Height != 240 {
				t.Errorf("result = %s %dx%d", res.ContentType, res.Width, res.Height)
			}
			if d := res.Duration - 2*time.Second; d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("duration = %v, want 2s", res.Duration)
			}
			want := map[string][2]int{"thumbnail": {150, 150}, "poster": {320, 240}}
			if len(res.Variants) != len(want) {
				t.Fatalf("%d variants", len(res.Variants))
			}
			for _, v := range res.Variants {
				if got := [2]int{v.Width, v.Height}; got != want[v.Name] {
					t.Errorf("%s: %v, want %v", v.Name, got, want[v.Name])
				}
				if v.ContentType != "image/jpeg" {
					t.Errorf("%s: %s", v.Name, v.ContentType)
				}
				decodeOutput(t, v)
			}
		})
	}
}

// TestVideoRotated: a phone video stored 320×240 with a 90° display matrix
// displays (and gets a poster) 240×320.
func TestVideoRotated(t *testing.T) {
	plain := ffmpegFile(t, "plain.mp4", append(append([]string{}, testsrc...), "-pix_fmt", "yuv420p")...)
	rotated := ffmpegFile(t, "rotated.mp4", "-i", plain, "-c", "copy", "-metadata:s:v", "rotate=90")
	res, err := Video(context.Background(), rotated, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 240 || res.Height != 320 {
		t.Errorf("result %dx%d, want 240x320", res.Width, res.Height)
	}
	if p := variant(t, res, "poster"); p.Width != 240 || p.Height != 320 {
		t.Errorf("poster %dx%d, want 240x320", p.Width, p.Height)
	}
}

func TestVideoSpecs(t *testing.T) {
	path := ffmpegFile(t, "big.mp4", "-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=5", "-t", "1", "-pix_fmt", "yuv420p")
	res, err := Video(context.Background(), path, Limits{}, []Spec{{Name: "poster", Max: 1280}, {Name: "tiny", Max: 64, Square: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 1920 || res.Height != 1080 {
		t.Errorf("result %dx%d", res.Width, res.Height)
	}
	if p := variant(t, res, "poster"); p.Width != 1280 || p.Height != 720 {
		t.Errorf("poster %dx%d", p.Width, p.Height)
	}
	if p := variant(t, res, "tiny"); p.Width != 64 || p.Height != 64 {
		t.Errorf("tiny %dx%d", p.Width, p.Height)
	}
}

func TestVideoRejections(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mp4 := ffmpegFile(t, "ok.mp4", append(append([]string{}, testsrc...), "-pix_fmt", "yuv420p")...)
	mp4Data := readFile(t, mp4)
	audio := ffmpegFile(t, "audio.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac")
	jpg := write("photo.mp4", encodeJPEG(t, photo(64, 48, 1), 80))

	tests := []struct {
		name, path, reason string
		lim                Limits
	}{
		{"html renamed .mp4", write("page.mp4", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")), "not a supported video: detected text/html; charset=utf-8", Limits{}},
		{"m3u8 playlist renamed .mp4", write("list.mp4", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n")), "not a supported video: detected text/plain", Limits{}},
		{"jpeg renamed .mp4", jpg, "not a supported video: detected image/jpeg", Limits{}},
		{"empty", write("empty.mp4", nil), "empty file", Limits{}},
		{"truncated mp4 (no moov)", write("trunc.mp4", mp4Data[:len(mp4Data)/2]), "unreadable or corrupt video", Limits{}},
		{"garbage after ftyp", write("garbage.mp4", append(append([]byte{}, mp4Data[:32]...), strings.Repeat("\x00garbage", 100)...)), "", Limits{}},
		{"audio only", audio, "no video stream", Limits{}},
		{"too long", mp4, "video is too long: 2s (limit 1s)", Limits{MaxVideoDuration: time.Second}},
		{"too many pixels", mp4, "video frames are too large: 320x240", Limits{MaxPixels: 320*240 - 1}},
		{"too many bytes", mp4, "file is too large", Limits{MaxBytes: int64(len(mp4Data) - 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Video(context.Background(), tt.path, tt.lim, nil)
			wantRejection(t, err, tt.reason)
		})
	}
}

func TestVideoOperationalErrors(t *testing.T) {
	mp4 := ffmpegFile(t, "ok.mp4", append(append([]string{}, testsrc...), "-pix_fmt", "yuv420p")...)

	t.Run("missing file", func(t *testing.T) {
		_, err := Video(context.Background(), filepath.Join(t.TempDir(), "nope.mp4"), Limits{}, nil)
		if err == nil || errors.As(err, new(*Rejection)) {
			t.Fatalf("err = %v, want a plain error", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Video(ctx, mp4, Limits{}, nil)
		if !errors.Is(err, context.Canceled) || errors.As(err, new(*Rejection)) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("ffmpeg missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := Video(context.Background(), mp4, Limits{}, nil)
		if err == nil || errors.As(err, new(*Rejection)) || !strings.Contains(err.Error(), "ffmpeg") {
			t.Fatalf("err = %v, want a plain error naming ffmpeg", err)
		}
	})
}

// TestVideoTimeout: a slow ffmpeg is killed when ctx expires and the error
// is the context's, not a rejection.
func TestVideoTimeout(t *testing.T) {
	mp4 := ffmpegFile(t, "ok.mp4", append(append([]string{}, testsrc...), "-pix_fmt", "yuv420p")...)
	bin := t.TempDir()
	for _, tool := range []string{"ffprobe", "ffmpeg"} {
		if err := os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\nexec /bin/sleep 30\n"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Video(ctx, mp4, Limits{}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*Rejection)) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

func TestMeasureDuration(t *testing.T) {
	path := ffmpegFile(t, "ok.webm", append(append([]string{}, testsrc...), "-c:v", "libvpx", "-b:v", "200k")...)
	abs, _ := filepath.Abs(path)
	d, err := measureDuration(context.Background(), mustLook(t, "ffmpeg"), "matroska", "file:"+abs)
	if err != nil {
		t.Fatal(err)
	}
	if d < 1800*time.Millisecond || d > 2100*time.Millisecond {
		t.Errorf("duration = %v, want about 2s", d)
	}
}

func mustLook(t *testing.T, name string) string {
	t.Helper()
	p, err := lookTool(name)
	if err != nil {
		t.Skip(err)
	}
	return p
}

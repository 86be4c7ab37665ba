package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// demuxers maps the accepted video types to the ffmpeg demuxer forced with
// -f, so ffmpeg never guesses the format (no playlists, image sequences or
// other surprises behind a video extension).
var demuxers = map[string]string{
	"video/mp4":       "mov",
	"video/quicktime": "mov",
	"video/webm":      "matroska",
}

// maxPosterBytes bounds the PNG poster frame read from ffmpeg (an 8K frame
// of noise is about 100 MB of PNG; MaxPixels normally bounds it well below).
const maxPosterBytes = 256 << 20

// waitDelay is how long a killed ffmpeg/ffprobe gets to release its pipes.
const waitDelay = 2 * time.Second

// Video validates the local video file at path, reads its duration and
// dimensions with ffprobe, grabs a poster frame with ffmpeg (at one second,
// or halfway through shorter videos) and turns the frame into one variant
// per spec (VideoSpecs when specs is nil) with the Image path.
//
// ffprobe and ffmpeg are looked up in PATH; ctx bounds and kills them.
// Content problems — not an MP4/QuickTime/WebM file, no video stream,
// unreadable by ffprobe, longer than lim.MaxVideoDuration, frames over
// lim.MaxPixels, bigger than lim.MaxBytes (default DefaultMaxVideoBytes) —
// are returned as a *Rejection. A missing ffmpeg, a cancelled or expired
// ctx and I/O errors are returned as plain errors.
func Video(ctx context.Context, path string, lim Limits, specs []Spec) (Result, error) {
	lim = lim.withDefaults(DefaultMaxVideoBytes)
	if specs == nil {
		specs = VideoSpecs
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Result{}, fmt.Errorf("media/process: video path: %w", err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return Result{}, fmt.Errorf("media/process: open video: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return Result{}, fmt.Errorf("media/process: stat video: %w", err)
	}
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Result{}, fmt.Errorf("media/process: read video: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Result{}, fmt.Errorf("media/process: %s is not a regular file", path)
	}
	if st.Size() == 0 {
		return Result{}, reject("empty file")
	}
	if st.Size() > lim.MaxBytes {
		return Result{}, reject("file is too large: %s (limit %s)", formatBytes(st.Size()), formatBytes(lim.MaxBytes))
	}
	ct := Sniff(head[:n])
	demuxer, ok := demuxers[ct]
	if !ok {
		return Result{}, reject("not a supported video: detected %s", ct)
	}
	ffprobe, err := lookTool("ffprobe")
	if err != nil {
		return Result{}, err
	}
	ffmpeg, err := lookTool("ffmpeg")
	if err != nil {
		return Result{}, err
	}
	// "file:" stops ffmpeg from reading a protocol or option out of the path.
	input := "file:" + abs

	info, err := probe(ctx, ffprobe, demuxer, input)
	if err != nil {
		return Result{}, err
	}
	if px := int64(info.width) * int64(info.height); px > lim.MaxPixels {
		return Result{}, reject("video frames are too large: %dx%d is %.1f megapixels (limit %.1f)",
			info.width, info.height, float64(px)/1e6, float64(lim.MaxPixels)/1e6)
	}
	dur := info.duration
	if dur <= 0 {
		if dur, err = measureDuration(ctx, ffmpeg, demuxer, input); err != nil {
			return Result{}, err
		}
	}
	if dur > lim.MaxVideoDuration {
		return Result{}, reject("video is too long: %s (limit %s)", dur.Round(time.Second), lim.MaxVideoDuration)
	}

	at := min(time.Second, dur/2)
	frame, err := posterFrame(ctx, ffmpeg, demuxer, input, at)
	if at > 0 && (err == nil && len(frame) == 0 || errors.As(err, new(*Rejection))) {
		// Nothing decoded from the seek point (no index, timestamps not
		// starting at zero, a bad packet there): take the first frame.
		frame, err = posterFrame(ctx, ffmpeg, demuxer, input, 0)
	}
	if err != nil {
		return Result{}, err
	}
	if len(frame) == 0 {
		return Result{}, reject("could not decode a frame of the video")
	}
	img, err := processImage(frame, Limits{MaxPixels: lim.MaxPixels}.withDefaults(maxPosterBytes), specs)
	if err != nil {
		var r *Rejection
		if errors.As(err, &r) {
			return Result{}, reject("could not decode a frame of the video")
		}
		return Result{}, err
	}
	return Result{ContentType: ct, Width: img.Width, Height: img.Height, Duration: dur, Variants: img.Variants}, nil
}

// lookTool finds an ffmpeg tool in PATH; its absence is an operational
// error, not a rejection.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("media/process: %s (from ffmpeg) is required to process videos: %w", name, err)
	}
	return p, nil
}

type probeInfo struct {
	width, height int
	duration      time.Duration // 0 when the container does not say
}

// probe runs ffprobe and picks the first real video stream (not cover art).
func probe(ctx context.Context, ffprobe, demuxer, input string) (probeInfo, error) {
	out, err := run(ctx, 1<<20, ffprobe, "-v", "error",
		"-f", demuxer,
		"-show_entries", "format=duration:stream=codec_type,width,height:stream_disposition=attached_pic",
		"-of", "json", input)
	if err != nil {
		return probeInfo{}, err
	}
	var doc struct {
		Streams []struct {
			CodecType   string `json:"codec_type"`
			Width       int    `json:"width"`
			Height      int    `json:"height"`
			Disposition struct {
				AttachedPic int `json:"attached_pic"`
			} `json:"disposition"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return probeInfo{}, fmt.Errorf("media/process: parsing ffprobe output: %w", err)
	}
	var info probeInfo
	for _, s := range doc.Streams {
		if s.CodecType == "video" && s.Disposition.AttachedPic == 0 && s.Width > 0 && s.Height > 0 {
			info.width, info.height = s.Width, s.Height
			break
		}
	}
	if info.width == 0 {
		return probeInfo{}, reject("no video stream found")
	}
	if secs, err := strconv.ParseFloat(doc.Format.Duration, 64); err == nil && secs > 0 && secs < 1e9 {
		info.duration = time.Duration(secs * float64(time.Second))
	}
	return info, nil
}

// measureDuration finds the duration of a file whose container does not
// declare it (e.g. WebM from MediaRecorder) by remuxing its video stream to
// nowhere, which reads every packet but decodes none.
func measureDuration(ctx context.Context, ffmpeg, demuxer, input string) (time.Duration, error) {
	out, err := run(ctx, 16<<20, ffmpeg, "-nostdin", "-v", "error",
		"-f", demuxer, "-i", input,
		"-map", "0:v:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-")
	if err != nil {
		return 0, err
	}
	var us int64 = -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "out_time_us="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				us = n
			}
		}
	}
	if us <= 0 {
		return 0, reject("could not determine the video duration")
	}
	return time.Duration(us) * time.Microsecond, nil
}

// posterFrame decodes one frame at offset at and returns it as a PNG, with
// rotation applied (ffmpeg autorotates) and non-square pixels made square.
// It returns no bytes and no error when no frame could be decoded there.
func posterFrame(ctx context.Context, ffmpeg, demuxer, input string, at time.Duration) ([]byte, error) {
	return run(ctx, maxPosterBytes, ffmpeg, "-nostdin", "-v", "error",
		"-ss", strconv.FormatFloat(at.Seconds(), 'f', 3, 64),
		"-f", demuxer, "-i", input,
		"-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
		"-vf", "scale=iw*sar:ih,setsar=1",
		"-f", "image2pipe", "-c:v", "png", "pipe:1")
}

// run executes a tool and returns its stdout (at most limit bytes). A
// failing tool means ffmpeg could not read the file: a Rejection. A
// cancelled or expired ctx is returned as a plain error.
func run(ctx context.Context, limit int, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	stdout := &cappedBuffer{limit: limit}
	stderr := cappedBuffer{limit: 4 << 10, truncate: true}
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.Stdin = nil
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("media/process: %s: %w", filepath.Base(name), ctxErr)
	}
	if stdout.overflow {
		return nil, reject("video frame is too large")
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.Exited() {
			return nil, reject("unreadable or corrupt video")
		}
		return nil, fmt.Errorf("media/process: running %s: %w (stderr: %q)", filepath.Base(name), err, stderr.buf.String())
	}
	return stdout.buf.Bytes(), nil
}

// cappedBuffer keeps the first limit bytes written to it. Past that it
// either drops the rest (truncate) or fails the write, which ends the tool
// with a broken pipe.
type cappedBuffer struct {
	buf      bytes.Buffer
	limit    int
	truncate bool
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.limit {
		b.overflow = true
		b.buf.Write(p[:max(0, b.limit-b.buf.Len())])
		if b.truncate {
			return len(p), nil
		}
		return 0, errors.New("output limit exceeded")
	}
	return b.buf.Write(p)
}

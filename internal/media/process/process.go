// Package process is the pure processing core of the media pipeline: bytes
// (or a local video file) in, resized and re-encoded variants out.
//
// It knows nothing about Temporal, the media store or S3; the activity that
// calls it owns I/O, retries and persistence. The package draws a hard line
// between two kinds of failure:
//
//   - A *Rejection is a problem with the content itself (not an image, a
//     decompression bomb, a polyglot file, a video that is too long…).
//     Processing the same bytes again fails the same way, so callers should
//     not retry; Rejection.Reason is safe to show to the uploader.
//   - Any other error is operational (ffmpeg is missing, the context was
//     cancelled, a temp file could not be written) and may succeed on retry.
//
// Image decodes only the formats it can verify end to end (JPEG, PNG, GIF,
// WebP), refuses images whose header declares more than Limits.MaxPixels
// before allocating any pixel memory, refuses files with non-padding data
// after the end of the image, applies the JPEG EXIF orientation and
// re-encodes every variant, so no metadata (EXIF, GPS, XMP, ICC, comments)
// survives. Outputs are deterministic: the same input yields byte-identical
// variants.
//
// Video runs ffprobe and ffmpeg (found in PATH) to validate the file, read
// its duration and dimensions and grab a poster frame, which then goes
// through the same image path.
package process

import (
	"fmt"
	"time"
)

// Default limits, used for the zero fields of Limits.
const (
	// DefaultMaxPixels bounds width×height of an image or video frame.
	DefaultMaxPixels int64 = 50_000_000
	// DefaultMaxImageBytes bounds the size of an image file.
	DefaultMaxImageBytes int64 = 20 << 20
	// DefaultMaxVideoBytes bounds the size of a video file.
	DefaultMaxVideoBytes int64 = 1 << 30
	// DefaultMaxVideoDuration bounds the duration of a video.
	DefaultMaxVideoDuration = 10 * time.Minute
)

// Rejection is a content problem: processing the same input again will fail
// the same way, so it must not be retried. Reason is safe to show to the
// client (it never contains paths, tool output or internal details).
type Rejection struct {
	Reason string
}

// Error implements error.
func (r *Rejection) Error() string { return "media rejected: " + r.Reason }

func reject(format string, args ...any) *Rejection {
	return &Rejection{Reason: fmt.Sprintf(format, args...)}
}

// Limits bounds the resources one input may consume. A zero field takes the
// matching Default* value (for MaxBytes: DefaultMaxImageBytes in Image,
// DefaultMaxVideoBytes in Video).
type Limits struct {
	// MaxPixels refuses images (and video frames) with more pixels than
	// this, judged from the header, before decoding or allocating.
	MaxPixels int64
	// MaxBytes refuses inputs larger than this many bytes.
	MaxBytes int64
	// MaxVideoDuration refuses longer videos.
	MaxVideoDuration time.Duration
}

func (l Limits) withDefaults(maxBytes int64) Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = maxBytes
	}
	if l.MaxVideoDuration <= 0 {
		l.MaxVideoDuration = DefaultMaxVideoDuration
	}
	return l
}

// Spec describes one variant to produce.
type Spec struct {
	// Name identifies the variant (e.g. "thumbnail"); it is copied to
	// Output.Name.
	Name string
	// Max is the bounding size in pixels.
	Max int
	// Square center-crops the image to fill a Max×Max square (smaller if the
	// image's short side is below Max). Otherwise the image is scaled to fit
	// within Max×Max keeping its aspect ratio. Images are never upscaled.
	Square bool
}

// DefaultSpecs are the variants produced for an uploaded image.
var DefaultSpecs = []Spec{
	{Name: "thumbnail", Max: 150, Square: true},
	{Name: "medium", Max: 640},
	{Name: "large", Max: 1280},
}

// VideoSpecs are the variants produced from a video's poster frame when
// Video is called with nil specs.
var VideoSpecs = []Spec{
	{Name: "thumbnail", Max: 150, Square: true},
	{Name: "poster", Max: 1280},
}

// Output is one encoded variant.
type Output struct {
	// Name is the Spec.Name the variant was made for.
	Name string
	// ContentType is image/jpeg for opaque images, image/png for images
	// with transparency.
	ContentType string
	// Width and Height are the variant's dimensions in pixels.
	Width, Height int
	// Data is the encoded image.
	Data []byte
}

// Result describes a processed input and its variants.
type Result struct {
	// ContentType is the sniffed type of the original (e.g. image/jpeg,
	// video/mp4).
	ContentType string
	// Width and Height are the original's display dimensions: after EXIF
	// orientation for images, after rotation and pixel aspect ratio for
	// videos.
	Width, Height int
	// Duration is the length of a video; zero for images.
	Duration time.Duration
	// Variants holds one Output per Spec, in the order of the specs.
	Variants []Output
}

package process

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/ejazz/ejazz/internal/media/mediatest"
)

func photo(w, h int, seed uint64) *image.RGBA { return mediatest.Photo(w, h, seed) }

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	return mediatest.JPEG(t, img, quality)
}

func encodePNG(t testing.TB, img image.Image) []byte { return mediatest.PNG(t, img) }

// withTransparency returns an NRGBA copy of img whose left half is
// semi-transparent.
func withTransparency(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if x < b.Dx()/2 {
				c.A = 100
			}
			out.SetNRGBA(x, y, c)
		}
	}
	return out
}

func insertSegment(jpg []byte, marker byte, payload []byte) []byte {
	return mediatest.InsertSegment(jpg, marker, payload)
}

const gpsMarker = mediatest.GPSMarker

func exifAPP1(orientation uint16) []byte { return mediatest.EXIF(orientation) }

func pngBomb(t testing.TB, w, h uint32) []byte { return mediatest.PNGBomb(t, w, h) }

func asRejection(t testing.TB, err error) *Rejection {
	t.Helper()
	var r *Rejection
	if !errors.As(err, &r) {
		t.Fatalf("error %v (%T) is not a *Rejection", err, err)
	}
	return r
}

func wantRejection(t testing.TB, err error, substr string) {
	t.Helper()
	r := asRejection(t, err)
	if !strings.Contains(r.Reason, substr) {
		t.Fatalf("rejection reason %q does not contain %q", r.Reason, substr)
	}
}

func decodeOutput(t testing.TB, o Output) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch o.ContentType {
	case "image/jpeg":
		img, err = jpeg.Decode(bytes.NewReader(o.Data))
	case "image/png":
		img, err = png.Decode(bytes.NewReader(o.Data))
	default:
		t.Fatalf("%s: unexpected content type %q", o.Name, o.ContentType)
	}
	if err != nil {
		t.Fatalf("%s: decoding output: %v", o.Name, err)
	}
	if b := img.Bounds(); b.Dx() != o.Width || b.Dy() != o.Height {
		t.Fatalf("%s: output is %v, Output says %dx%d", o.Name, b, o.Width, o.Height)
	}
	return img
}

func variant(t testing.TB, res Result, name string) Output {
	t.Helper()
	for _, v := range res.Variants {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no variant %q in %+v", name, res.Variants)
	return Output{}
}

func needFFmpeg(t testing.TB) string { return mediatest.NeedFFmpeg(t) }

func ffmpegFile(t testing.TB, name string, args ...string) string {
	return mediatest.FFmpeg(t, name, args...)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Package mediatest builds media fixtures in code for tests: photo-like
// images, JPEGs carrying EXIF orientation and GPS tags, decompression bombs
// and videos made with ffmpeg. No binary fixtures live in the repository.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ejazz/ejazz/internal/testenv"
)

// Photo returns a deterministic w×h image that compresses like a photo:
// smooth gradients, a few hard-edged shapes and pixel noise.
func Photo(w, h int, seed uint64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	s := seed*0x9E3779B97F4A7C15 + 1
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w*4]
		fy := y * 255 / max(h-1, 1)
		for x := range w {
			// xorshift64: fast, deterministic noise.
			s ^= s << 13
			s ^= s >> 7
			s ^= s << 17
			n := int(s&31) - 16
			fx := x * 255 / max(w-1, 1)
			r, g, b := fx, fy, (fx+fy)/2
			// Hard-edged shapes (windows, stripes) give the encoder edges.
			if (x/97+y/131)%5 == 0 {
				r, g, b = 255-g, 255-r, b/2
			}
			if cx, cy := x-w/3, y-h/2; cx*cx+cy*cy < (h/5)*(h/5) {
				r, g, b = 220, 180-fy/3, 60
			}
			p := row[x*4 : x*4+4 : x*4+4]
			p[0] = clamp8(r + n)
			p[1] = clamp8(g + n/2)
			p[2] = clamp8(b - n)
			p[3] = 0xff
		}
	}
	return img
}

func clamp8(v int) uint8 { return uint8(min(max(v, 0), 255)) }

func JPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func PNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// InsertSegment inserts a JPEG marker segment (marker, payload) right after
// SOI.
func InsertSegment(jpg []byte, marker byte, payload []byte) []byte {
	seg := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// GPSMarker is an ASCII value stored in the test EXIF's GPS IFD, to look for
// in outputs.
const GPSMarker = "GPS-SECRET-48.8584N-2.2945E"

// EXIF builds an "Exif\0\0" APP1 payload by hand: a little-endian TIFF
// header, IFD0 with Orientation (0x0112) and a GPSInfo pointer (0x8825), and
// a GPS IFD with GPSLatitudeRef, GPSLatitude and GPSMapDatum (GPSMarker).
func EXIF(orientation uint16) []byte {
	le := binary.LittleEndian
	var t []byte
	t = append(t, 'I', 'I', 42, 0, 8, 0, 0, 0) // header, IFD0 at 8
	entry := func(tag, typ uint16, count, value uint32) {
		t = le.AppendUint16(t, tag)
		t = le.AppendUint16(t, typ)
		t = le.AppendUint32(t, count)
		t = le.AppendUint32(t, value)
	}
	// IFD0: 2 entries (8 + 2 + 24 + 4 = 38 bytes) → GPS IFD at 38.
	const gpsIFD = 38
	t = le.AppendUint16(t, 2)
	entry(0x0112, 3, 1, uint32(orientation)) // SHORT, value left-justified
	entry(0x8825, 4, 1, gpsIFD)              // LONG offset
	t = le.AppendUint32(t, 0)                // no IFD1
	// GPS IFD: 3 entries (2 + 36 + 4 = 42 bytes) → data at 80.
	const latData = gpsIFD + 42
	const datumData = latData + 24
	t = le.AppendUint16(t, 3)
	entry(0x0001, 2, 2, uint32('N'))                      // GPSLatitudeRef "N\0" inline
	entry(0x0002, 5, 3, latData)                          // GPSLatitude 3 RATIONAL
	entry(0x0012, 2, uint32(len(GPSMarker)+1), datumData) // GPSMapDatum ASCII
	t = le.AppendUint32(t, 0)
	for _, v := range []uint32{48, 1, 51, 1, 2940, 100} {
		t = le.AppendUint32(t, v)
	}
	t = append(t, GPSMarker...)
	t = append(t, 0)
	return append([]byte("Exif\x00\x00"), t...)
}

// PNGBomb returns a valid-looking PNG declaring w×h pixels whose IDAT holds
// a few bytes: a 1×1 PNG with IHDR's dimensions patched and its CRC redone.
func PNGBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	data := PNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	// signature(8) + length(4) + "IHDR"(4) + width(4) + height(4) …
	if string(data[12:16]) != "IHDR" {
		t.Fatal("no IHDR")
	}
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	crc := crc32.ChecksumIEEE(data[12 : 16+13])
	binary.BigEndian.PutUint32(data[16+13:], crc)
	return data
}

// NeedFFmpeg skips the test when ffmpeg/ffprobe are not installed (fails
// it under CI=true, where dev/stack installs them).
func NeedFFmpeg(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testenv.InCI() {
				t.Fatalf("%s not installed (dev/stack up installs it)", tool)
			}
			t.Skipf("%s not installed (dev/stack up installs it)", tool)
		}
	}
	p, _ := exec.LookPath("ffmpeg")
	return p
}

// FFmpeg runs ffmpeg with args (the output path is the last one, relative
// to a temp dir) and returns the output's path.
func FFmpeg(t testing.TB, name string, args ...string) string {
	t.Helper()
	ffmpeg := NeedFFmpeg(t)
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(ffmpeg, append(append([]string{"-nostdin", "-v", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
	}
	return out
}

// WithEXIF returns jpg with an EXIF APP1 segment (orientation and a GPS
// fix holding GPSMarker) inserted after SOI.
func WithEXIF(jpg []byte, orientation uint16) []byte {
	return InsertSegment(jpg, 0xE1, EXIF(orientation))
}

// Video returns a 2-second 320×240 test-pattern video made by ffmpeg; the
// container follows name's extension (.mp4 or .webm).
func Video(t testing.TB, name string) []byte {
	t.Helper()
	args := []string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2", "-pix_fmt", "yuv420p"}
	b, err := os.ReadFile(FFmpeg(t, name, args...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

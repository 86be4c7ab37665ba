package process

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSniff(t *testing.T) {
	ftyp := func(major string, compat ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compat)))
		b = append(b, "ftyp"...)
		b = append(b, major...)
		b = append(b, 0, 0, 2, 0)
		for _, c := range compat {
			b = append(b, c...)
		}
		return append(b, 0, 0, 0, 8, 'f', 'r', 'e', 'e')
	}
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), "image/jpeg"},
		{"png", append(append([]byte{}, pngSignature...), "\x00\x00\x00\x0dIHDR"...), "image/png"},
		{"gif87", []byte("GIF87a\x01\x00\x01\x00"), "image/gif"},
		{"gif89", []byte("GIF89a\x01\x00\x01\x00"), "image/gif"},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"mp4", ftyp("isom", "isom", "iso2", "avc1", "mp41"), "video/mp4"},
		{"mp4 mp42", ftyp("mp42", "mp42", "isom"), "video/mp4"},
		{"quicktime", ftyp("qt  ", "qt  "), "video/quicktime"},
		{"heic", ftyp("heic", "mif1", "heic"), "image/heic"},
		{"avif", ftyp("avif", "avif", "mif1"), "image/avif"},
		{"webm", []byte("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01webm"), "video/webm"},
		{"html", []byte("  <!DOCTYPE html><html><script>alert(1)</script>"), "text/html; charset=utf-8"},
		{"svg xml", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "text/xml; charset=utf-8"},
		{"text", []byte("hello"), "text/plain; charset=utf-8"},
		{"empty", nil, "text/plain; charset=utf-8"},
		{"riff not webp", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), "audio/wave"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff(tt.head); got != tt.want {
				t.Errorf("Sniff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestImageVariantSizes(t *testing.T) {
	tests := []struct {
		name  string
		w, h  int
		sizes map[string][2]int
	}{
		{"landscape", 2000, 1500, map[string][2]int{"thumbnail": {150, 150}, "medium": {640, 480}, "large": {1280, 960}}},
		{"portrait", 1200, 2000, map[string][2]int{"thumbnail": {150, 150}, "medium": {384, 640}, "large": {768, 1280}}},
		{"small: never upscaled", 100, 80, map[string][2]int{"thumbnail": {80, 80}, "medium": {100, 80}, "large": {100, 80}}},
		{"between", 900, 300, map[string][2]int{"thumbnail": {150, 150}, "medium": {640, 213}, "large": {900, 300}}},
		// Large (1280×40) and medium (640×20) are too thin to cut the
		// 150×150 thumbnail from: the cascade must go back to the source.
		{"panorama", 6400, 200, map[string][2]int{"thumbnail": {150, 150}, "medium": {640, 20}, "large": {1280, 40}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Image(encodeJPEG(t, photo(tt.w, tt.h, 1), 85), Limits{}, DefaultSpecs)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != "image/jpeg" || res.Width != tt.w || res.Height != tt.h || res.Duration != 0 {
				t.Errorf("result = %s %dx%d %v", res.ContentType, res.Width, res.Height, res.Duration)
			}
			if len(res.Variants) != len(DefaultSpecs) {
				t.Fatalf("%d variants", len(res.Variants))
			}
			for i, v := range res.Variants {
				if v.Name != DefaultSpecs[i].Name {
					t.Errorf("variant %d is %q, want spec order", i, v.Name)
				}
				decodeOutput(t, v)
				if want := tt.sizes[v.Name]; v.Width != want[0] || v.Height != want[1] {
					t.Errorf("%s: %dx%d, want %dx%d", v.Name, v.Width, v.Height, want[0], want[1])
				}
				if v.ContentType != "image/jpeg" {
					t.Errorf("%s: %s, want image/jpeg", v.Name, v.ContentType)
				}
			}
		})
	}
}

// TestImageThumbnailIsCenterCrop checks the square crop comes from the
// center: a landscape image with red side bands and a green middle.
func TestImageThumbnailIsCenterCrop(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 900, 300))
	for y := range 300 {
		for x := range 900 {
			c := color.RGBA{0, 200, 0, 255}
			if x < 300 || x >= 600 {
				c = color.RGBA{200, 0, 0, 255}
			}
			src.SetRGBA(x, y, c)
		}
	}
	res, err := Image(encodePNG(t, src), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	th := decodeOutput(t, variant(t, res, "thumbnail"))
	for _, p := range []image.Point{{5, 5}, {75, 75}, {144, 144}} {
		r, g, _, _ := th.At(p.X, p.Y).RGBA()
		if r > 0x3000 || g < 0xa000 {
			t.Errorf("thumbnail pixel %v = %v, want green", p, th.At(p.X, p.Y))
		}
	}
}

func TestImageFormats(t *testing.T) {
	opaque := photo(300, 200, 2)
	paletted := image.NewPaletted(image.Rect(0, 0, 300, 200), palette.Plan9)
	for y := range 200 {
		for x := range 300 {
			paletted.SetColorIndex(x, y, uint8((x/10+y/10)%200))
		}
	}
	transparentGIF := image.NewPaletted(image.Rect(0, 0, 300, 200), color.Palette{color.Transparent, color.RGBA{255, 0, 0, 255}})
	for y := range 200 {
		for x := range 150 {
			transparentGIF.SetColorIndex(x, y, 1)
		}
	}
	gifBytes := func(img *image.Paletted) []byte {
		var buf bytes.Buffer
		if err := gif.Encode(&buf, img, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name     string
		data     []byte
		wantType string // of the original
		wantOut  string // of the variants
	}{
		{"jpeg", encodeJPEG(t, opaque, 90), "image/jpeg", "image/jpeg"},
		{"grayscale jpeg", encodeJPEG(t, image.NewGray(image.Rect(0, 0, 300, 200)), 90), "image/jpeg", "image/jpeg"},
		{"opaque png", encodePNG(t, opaque), "image/png", "image/jpeg"},
		{"png with alpha", encodePNG(t, withTransparency(opaque)), "image/png", "image/png"},
		{"16-bit png", encodePNG(t, image.NewNRGBA64(image.Rect(0, 0, 300, 200))), "image/png", "image/png"},
		{"opaque gif", gifBytes(paletted), "image/gif", "image/jpeg"},
		{"transparent gif", gifBytes(transparentGIF), "image/gif", "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Image(tt.data, Limits{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != tt.wantType || res.Width != 300 || res.Height != 200 {
				t.Errorf("result = %s %dx%d", res.ContentType, res.Width, res.Height)
			}
			for _, v := range res.Variants {
				if v.ContentType != tt.wantOut {
					t.Errorf("%s: %s, want %s", v.Name, v.ContentType, tt.wantOut)
				}
				decodeOutput(t, v)
			}
		})
	}
}

func TestImageWebP(t *testing.T) {
	src := ffmpegFile(t, "src.png", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1")
	alpha := ffmpegFile(t, "alpha.png", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1",
		"-vf", "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,160),80,255)'")
	tests := []struct {
		name    string
		args    []string
		wantOut string
	}{
		{"lossy", []string{"-i", src, "-c:v", "libwebp", "-quality", "80"}, "image/jpeg"},
		{"lossless alpha", []string{"-i", alpha, "-c:v", "libwebp", "-lossless", "1"}, "image/png"},
		{"lossy alpha", []string{"-i", alpha, "-c:v", "libwebp", "-quality", "80"}, "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readFile(t, ffmpegFile(t, "out.webp", tt.args...))
			res, err := Image(data, Limits{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != "image/webp" || res.Width != 320 || res.Height != 240 {
				t.Errorf("result = %s %dx%d", res.ContentType, res.Width, res.Height)
			}
			for _, v := range res.Variants {
				if v.ContentType != tt.wantOut {
					t.Errorf("%s: %s, want %s", v.Name, v.ContentType, tt.wantOut)
				}
				decodeOutput(t, v)
			}
			_, err = Image(append(data, "<script>alert(1)</script>"...), Limits{}, nil)
			wantRejection(t, err, "unexpected data after the end of the image")
			_, err = Image(data[:len(data)/2], Limits{}, nil)
			wantRejection(t, err, reasonCorrupt)
		})
	}
}

func TestImageAnimatedWebPRejected(t *testing.T) {
	data := readFile(t, ffmpegFile(t, "anim.webp", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1",
		"-c:v", "libwebp_anim", "-loop", "0"))
	_, err := Image(data, Limits{}, nil)
	wantRejection(t, err, "animated WebP")
}

func TestImageUnsupportedTypes(t *testing.T) {
	tests := []struct {
		name, data, reason string
	}{
		{"html", "<!doctype html><html><body><script>alert(document.cookie)</script></body></html>", "not a supported image: detected text/html; charset=utf-8"},
		{"svg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "not a supported image: detected text/xml; charset=utf-8"},
		{"svg without prolog", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "not a supported image: detected text/"},
		{"xml", `<?xml version="1.0"?><a/>`, "not a supported image: detected text/xml"},
		{"pdf", "%PDF-1.7\n", "not a supported image: detected application/pdf"},
		{"binary", "\x00\x01\x02\x03", "not a supported image: detected application/octet-stream"},
		{"heic", "\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "not a supported image: detected image/heic"},
		{"bmp", "BM\x3e\x00\x00\x00\x00\x00\x00\x00", "not a supported image: detected image/bmp"},
		{"empty", "", "empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Image([]byte(tt.data), Limits{}, nil)
			wantRejection(t, err, tt.reason)
		})
	}
}

func TestImageMaxBytes(t *testing.T) {
	data := encodeJPEG(t, photo(200, 200, 3), 90)
	_, err := Image(data, Limits{MaxBytes: int64(len(data) - 1)}, nil)
	wantRejection(t, err, "file is too large")
	if _, err := Image(data, Limits{MaxBytes: int64(len(data))}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestImageDecompressionBomb: a 60-byte PNG declaring 20000×20000 (400
// megapixels, 1.6 GB as RGBA) must be refused from its header, fast and
// without allocating pixel memory.
func TestImageDecompressionBomb(t *testing.T) {
	bomb := pngBomb(t, 20000, 20000)
	if len(bomb) > 100 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Image(bomb, Limits{}, nil)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	wantRejection(t, err, "400.0 megapixels")
	wantRejection(t, err, "20000x20000")
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes to refuse a bomb", alloc)
	}
	if elapsed > 100*time.Millisecond {
		t.Errorf("took %v to refuse a bomb", elapsed)
	}
	// Same for a JPEG whose SOF declares a huge size, and a GIF screen.
	jpg := encodeJPEG(t, photo(16, 16, 1), 80)
	sof := bytes.Index(jpg, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(jpg[sof+5:], 60000) // height
	binary.BigEndian.PutUint16(jpg[sof+7:], 60000) // width
	_, err = Image(jpg, Limits{}, nil)
	wantRejection(t, err, "megapixels")
	// And a custom limit.
	_, err = Image(encodePNG(t, photo(100, 100, 1)), Limits{MaxPixels: 9999}, nil)
	wantRejection(t, err, "0.0 megapixels")
}

func TestImageCorrupt(t *testing.T) {
	jpg := encodeJPEG(t, photo(300, 200, 4), 90)
	pngData := encodePNG(t, photo(300, 200, 4))
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, photo(300, 200, 4), nil); err != nil {
		t.Fatal(err)
	}
	gifData := gifBuf.Bytes()
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		b[at] ^= 0x55
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated jpeg", jpg[:len(jpg)/2]},
		{"jpeg without EOI", jpg[:len(jpg)-2]},
		{"jpeg header only", jpg[:20]},
		{"truncated png", pngData[:len(pngData)/2]},
		{"png without IEND", pngData[:len(pngData)-12]},
		{"png bad crc", flip(pngData, len(pngData)/2)},
		{"truncated gif", gifData[:len(gifData)/2]},
		{"png signature only", pngSignature},
		{"gif header only", []byte("GIF89a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Image(tt.data, Limits{}, nil)
			wantRejection(t, err, reasonCorrupt)
		})
	}
}

func TestImagePolyglot(t *testing.T) {
	jpg := encodeJPEG(t, photo(300, 200, 5), 90)
	pngData := encodePNG(t, photo(300, 200, 5))
	var gifBuf bytes.Buffer
	anim := &gif.GIF{}
	for i := range 3 {
		f := image.NewPaletted(image.Rect(0, 0, 50, 40), palette.Plan9)
		for j := range f.Pix {
			f.Pix[j] = uint8(i*40 + j%7)
		}
		anim.Image = append(anim.Image, f)
		anim.Delay = append(anim.Delay, 10)
	}
	if err := gif.EncodeAll(&gifBuf, anim); err != nil {
		t.Fatal(err)
	}
	gifData := gifBuf.Bytes()
	html := []byte("<html><body><script>alert(document.cookie)</script></body></html>")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"jpeg+html", cat(jpg, html)},
		{"jpeg+script", cat(jpg, []byte("\n<script>alert(1)</script>"))},
		// A fake EOI after the payload must not hide it: the end is found
		// by walking the markers, not by searching for the last FFD9.
		{"jpeg+html+fake EOI", cat(jpg, html, []byte{0xFF, 0xD9})},
		{"jpeg+zip", cat(jpg, []byte("PK\x03\x04\x14\x00"))},
		// Appended JPEG without an MPF declaration is not part of the image.
		{"jpeg+jpeg", cat(jpg, jpg)},
		{"png+html", cat(pngData, html)},
		{"png+padding+html", cat(pngData, []byte("\x00\x00\n"), html)},
		{"animated gif+html", cat(gifData, html)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Image(tt.data, Limits{}, nil)
			wantRejection(t, err, "unexpected data after the end of the image")
		})
	}

	mpfFirst := insertSegment(jpg, 0xE2, []byte("MPF\x00II*\x00\x08\x00\x00\x00"))
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"jpeg", jpg},
		{"jpeg+zero padding", cat(jpg, make([]byte, 4096))},
		{"jpeg+whitespace", cat(jpg, []byte("\r\n \t\n"))},
		{"png+padding", cat(pngData, []byte("\x00\x00\x00\n"))},
		{"animated gif", gifData},
		{"animated gif+padding", cat(gifData, []byte("\x00\x00"))},
		// Cameras store MPF (multi-picture) previews after the first EOI.
		{"mpf jpeg", cat(mpfFirst, jpg, jpg)},
	} {
		t.Run("accept "+tt.name, func(t *testing.T) {
			if _, err := Image(tt.data, Limits{}, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("mpf jpeg+html", func(t *testing.T) {
		_, err := Image(cat(mpfFirst, jpg, html), Limits{}, nil)
		wantRejection(t, err, "unexpected data after the end of the image")
	})
}

// TestImageEXIF: a JPEG with an APP1 EXIF segment carrying GPS tags and
// orientation 6 (rotate 90° clockwise to display) comes out rotated, with
// swapped dimensions, and with no EXIF or GPS data in any variant.
func TestImageEXIF(t *testing.T) {
	// Stored 400×300, red block in the stored top-left corner.
	src := photo(400, 300, 6)
	for y := range 60 {
		for x := range 60 {
			src.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	jpg := insertSegment(encodeJPEG(t, src, 95), 0xE1, exifAPP1(6))
	if !bytes.Contains(jpg, []byte(gpsMarker)) || !bytes.Contains(jpg, []byte("Exif\x00\x00")) {
		t.Fatal("test input lacks its EXIF")
	}
	res, err := Image(jpg, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 300 || res.Height != 400 {
		t.Errorf("result is %dx%d, want the oriented 300x400", res.Width, res.Height)
	}
	want := map[string][2]int{"thumbnail": {150, 150}, "medium": {300, 400}, "large": {300, 400}}
	for _, v := range res.Variants {
		if got := [2]int{v.Width, v.Height}; got != want[v.Name] {
			t.Errorf("%s: %v, want %v", v.Name, got, want[v.Name])
		}
		if bytes.Contains(v.Data, []byte("Exif")) || hasAPP1(v.Data) {
			t.Errorf("%s: variant has an EXIF APP1 segment", v.Name)
		}
		if bytes.Contains(v.Data, []byte(gpsMarker)) || bytes.Contains(v.Data, []byte("GPS")) {
			t.Errorf("%s: variant carries the GPS data", v.Name)
		}
	}
	// Rotated 90° clockwise, the stored top-left corner is displayed top-right.
	large := decodeOutput(t, variant(t, res, "large"))
	if !isRed(large.At(300-10, 10)) || isRed(large.At(10, 10)) {
		t.Errorf("large is not rotated: top-right %v, top-left %v", large.At(290, 10), large.At(10, 10))
	}
}

func hasAPP1(jpg []byte) bool {
	found := false
	p := 2
	for p+4 <= len(jpg) && jpg[p] == 0xFF {
		m := jpg[p+1]
		if m == 0xDA {
			break
		}
		if m == 0xE1 {
			found = true
		}
		p += 2 + int(binary.BigEndian.Uint16(jpg[p+2:]))
	}
	return found
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 0xc000 && g < 0x4000 && b < 0x4000
}

// TestImageOrientations checks all eight EXIF orientations: where the stored
// top-left corner ends up, and whether width and height swap.
func TestImageOrientations(t *testing.T) {
	src := photo(200, 100, 7)
	for y := range 30 {
		for x := range 30 {
			src.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	plain := encodeJPEG(t, src, 95)
	// corner: 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left.
	for o, corner := range map[uint16]int{1: 0, 2: 1, 3: 2, 4: 3, 5: 0, 6: 1, 7: 2, 8: 3} {
		res, err := Image(insertSegment(plain, 0xE1, exifAPP1(o)), Limits{}, []Spec{{Name: "v", Max: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		w, h := 200, 100
		if o >= 5 {
			w, h = 100, 200
		}
		v := res.Variants[0]
		if res.Width != w || res.Height != h || v.Width != w || v.Height != h {
			t.Errorf("orientation %d: result %dx%d, variant %dx%d, want %dx%d", o, res.Width, res.Height, v.Width, v.Height, w, h)
			continue
		}
		img := decodeOutput(t, v)
		pts := []image.Point{{5, 5}, {w - 6, 5}, {w - 6, h - 6}, {5, h - 6}}
		for i, p := range pts {
			if got := isRed(img.At(p.X, p.Y)); got != (i == corner) {
				t.Errorf("orientation %d: corner %d red = %v", o, i, got)
			}
		}
	}
}

func TestImageDeterministic(t *testing.T) {
	for name, data := range map[string][]byte{
		"jpeg": encodeJPEG(t, photo(1600, 1200, 8), 90),
		"png":  encodePNG(t, withTransparency(photo(700, 500, 8))),
	} {
		t.Run(name, func(t *testing.T) {
			a, err := Image(data, Limits{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Image(bytes.Clone(data), Limits{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range a.Variants {
				if !bytes.Equal(a.Variants[i].Data, b.Variants[i].Data) {
					t.Errorf("%s differs between runs", a.Variants[i].Name)
				}
			}
		})
	}
}

// TestImagePanicIsRejection: a decoder that panics on hostile input must not
// take the worker down.
func TestImagePanicIsRejection(t *testing.T) {
	orig := codecs["image/png"]
	t.Cleanup(func() { codecs["image/png"] = orig })
	codecs["image/png"] = codec{orig.decodeConfig, func(io.Reader) (image.Image, error) {
		var pix []byte
		_ = pix[len(pix)+7] // index out of range, like a decoder bug on hostile input
		return nil, nil
	}}
	_, err := Image(encodePNG(t, photo(10, 10, 1)), Limits{}, nil)
	wantRejection(t, err, reasonCorrupt)
}

// TestImageMutationsNeverPanic feeds corrupted variants of valid files and
// checks the only outcomes are success or a *Rejection.
func TestImageMutationsNeverPanic(t *testing.T) {
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, photo(40, 30, 9), nil); err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{
		encodeJPEG(t, photo(40, 30, 9), 80),
		insertSegment(encodeJPEG(t, photo(40, 30, 9), 80), 0xE1, exifAPP1(6)),
		encodePNG(t, photo(40, 30, 9)),
		encodePNG(t, withTransparency(photo(40, 30, 9))),
		gifBuf.Bytes(),
	}
	s := uint64(42)
	next := func(n int) int {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		return int(s % uint64(n))
	}
	for _, seed := range seeds {
		for range 300 {
			d := bytes.Clone(seed)
			for range 1 + next(4) {
				d[next(len(d))] = byte(next(256))
			}
			if next(3) == 0 {
				d = d[:next(len(d))+1]
			}
			if _, err := Image(d, Limits{}, nil); err != nil {
				asRejection(t, err)
			}
		}
	}
}

func FuzzImage(f *testing.F) {
	f.Add(encodeJPEG(f, photo(16, 12, 1), 80))
	f.Add(insertSegment(encodeJPEG(f, photo(16, 12, 1), 80), 0xE1, exifAPP1(6)))
	f.Add(encodePNG(f, withTransparency(photo(16, 12, 1))))
	f.Add(pngBomb(f, 20000, 20000))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Image(data, Limits{MaxPixels: 1 << 20}, []Spec{{Name: "t", Max: 16, Square: true}, {Name: "m", Max: 32}})
		if err != nil {
			asRejection(t, err)
			return
		}
		if len(res.Variants) != 2 {
			t.Fatalf("%d variants", len(res.Variants))
		}
		if strings.HasPrefix(res.ContentType, "text/") {
			t.Fatalf("accepted %s", res.ContentType)
		}
	})
}

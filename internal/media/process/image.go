package process

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"sort"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"
)

// JPEGQuality is the quality of JPEG variants.
const JPEGQuality = 82

// resample is the filter for every resize. Lanczos (a=3) is sharp and
// alias-free for photos; the cascade keeps its cost down.
var resample = imaging.CatmullRom

type codec struct {
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}

// codecs maps the sniffed type to its own decoder, so a file is only ever
// parsed by the decoder its magic bytes name (no registry fallback).
var codecs = map[string]codec{
	"image/jpeg": {jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {png.DecodeConfig, png.Decode},
	"image/gif":  {gif.DecodeConfig, gif.Decode},
	"image/webp": {webp.DecodeConfig, webp.Decode},
}

const reasonCorrupt = "corrupt or truncated image"

// Image validates an image held in memory and produces one variant per spec
// (DefaultSpecs when specs is nil). Inputs are bounded by lim.MaxBytes
// (default DefaultMaxImageBytes).
//
// Content problems — not a JPEG/PNG/GIF/WebP, more than lim.MaxPixels
// declared in the header, corrupt or truncated data, non-padding bytes after
// the end of the image, even a panic inside a decoder — are returned as a
// *Rejection; no other error is returned today. Result.Width/Height are the
// dimensions of the original after EXIF orientation. Animated GIFs yield
// still variants of their first frame.
func Image(data []byte, lim Limits, specs []Spec) (Result, error) {
	lim = lim.withDefaults(DefaultMaxImageBytes)
	if int64(len(data)) > lim.MaxBytes {
		return Result{}, reject("file is too large: %s (limit %s)", formatBytes(int64(len(data))), formatBytes(lim.MaxBytes))
	}
	if specs == nil {
		specs = DefaultSpecs
	}
	return processImage(data, lim, specs)
}

// processImage is Image without the byte limit (Video uses it for poster
// frames, which it bounds itself).
func processImage(data []byte, lim Limits, specs []Spec) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{}, &Rejection{Reason: reasonCorrupt}
		}
	}()
	if len(data) == 0 {
		return Result{}, reject("empty file")
	}
	ct := Sniff(data)
	c, ok := codecs[ct]
	if !ok {
		return Result{}, reject("not a supported image: detected %s", ct)
	}
	if ct == "image/webp" && webpAnimated(data) {
		return Result{}, reject("animated WebP is not supported")
	}
	cfg, err := c.decodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return Result{}, reject(reasonCorrupt)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.MaxPixels {
		return Result{}, reject("image is too large: %dx%d is %.1f megapixels (limit %.1f)",
			cfg.Width, cfg.Height, float64(px)/1e6, float64(lim.MaxPixels)/1e6)
	}
	end, orientation, err := imageEnd(ct, data)
	if err != nil {
		return Result{}, reject(reasonCorrupt)
	}
	if !isPadding(data[end:]) {
		return Result{}, reject("unexpected data after the end of the image")
	}
	img, err := c.decode(bytes.NewReader(data[:end]))
	if err != nil {
		return Result{}, reject(reasonCorrupt)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height || b.Min != (image.Point{}) {
		if ct != "image/gif" || !b.In(image.Rect(0, 0, cfg.Width, cfg.Height)) {
			return Result{}, reject(reasonCorrupt)
		}
		// A GIF's first frame may cover part of the logical screen; the
		// rest is transparent.
		canvas := image.NewNRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}
	variants := makeVariants(img, orientation, specs)
	w, h := cfg.Width, cfg.Height
	if transposes(orientation) {
		w, h = h, w
	}
	return Result{ContentType: ct, Width: w, Height: h, Variants: variants}, nil
}

// webpAnimated reports whether a WebP file's VP8X header has the animation
// flag (x/image/webp decodes still images only).
func webpAnimated(data []byte) bool {
	return len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
}

// transposes reports whether EXIF orientation o swaps width and height.
func transposes(o int) bool { return o >= 5 && o <= 8 }

// orient applies EXIF orientation o to img, returning the displayed image.
func orient(img *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

// plan is one variant to make: its spec, its size in the stored (not yet
// oriented) pixel space, and the scale it implies relative to the source.
type plan struct {
	spec  Spec
	w, h  int     // output size, stored orientation
	scale float64 // output scale relative to the source (≤ 1)
}

// candidate is an image the cascade may resize from: the decoded source or
// an already-made full-frame variant.
type candidate struct {
	img   image.Image
	scale float64
}

// makeVariants produces the variants of src (decoded, in stored orientation)
// for specs. Variants are resized in stored orientation and oriented at the
// end, so rotation works on small images. It cascades: the variant needing
// the most resolution is made from the source, each next one from the
// smallest already-made full-frame variant that still has enough resolution.
func makeVariants(src image.Image, orientation int, specs []Spec) []Output {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	opaque := isOpaque(src)
	plans := make([]plan, len(specs))
	for i, s := range specs {
		p := plan{spec: s}
		maxSide := max(s.Max, 1)
		if s.Square {
			side := min(maxSide, sw, sh)
			p.w, p.h = side, side
			p.scale = float64(side) / float64(min(sw, sh))
		} else {
			p.w, p.h, p.scale = fit(sw, sh, maxSide)
		}
		plans[i] = p
	}
	order := make([]int, len(plans))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return plans[order[a]].scale > plans[order[b]].scale })

	cands := []candidate{{img: src, scale: 1}}
	out := make([]Output, len(specs))
	for _, i := range order {
		p := plans[i]
		// Smallest candidate with at least the resolution p needs.
		from := cands[0]
		for _, c := range cands[1:] {
			if c.scale >= p.scale-1e-9 && c.scale < from.scale {
				from = c
			}
		}
		var v *image.NRGBA
		fb := from.img.Bounds()
		switch {
		case p.spec.Square:
			v = imaging.Fill(from.img, p.w, p.h, imaging.Center, resample)
		case fb.Dx() == p.w && fb.Dy() == p.h:
			v = toNRGBA(from.img)
		default:
			v = imaging.Resize(from.img, p.w, p.h, resample)
			cands = append(cands, candidate{img: v, scale: p.scale})
		}
		v = orient(v, orientation)
		out[i] = encode(p.spec.Name, v, opaque)
	}
	return out
}

// fit returns the size of a w×h image scaled to fit within maxSide×maxSide
// (never upscaled) and the scale factor.
func fit(w, h, maxSide int) (int, int, float64) {
	if w <= maxSide && h <= maxSide {
		return w, h, 1
	}
	s := float64(maxSide) / float64(max(w, h))
	fw := max(1, int(math.Round(float64(w)*s)))
	fh := max(1, int(math.Round(float64(h)*s)))
	if w >= h {
		fw = maxSide
	} else {
		fh = maxSide
	}
	return fw, fh, s
}

// toNRGBA returns img as an *image.NRGBA at origin (0,0), converting if
// needed.
func toNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok && n.Rect.Min == (image.Point{}) {
		return n
	}
	return imaging.Clone(img)
}

// isOpaque reports whether every pixel of img is fully opaque.
func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return false
			}
		}
	}
	return true
}

// encode encodes a variant: JPEG for opaque images, PNG otherwise.
func encode(name string, img *image.NRGBA, opaque bool) Output {
	var buf bytes.Buffer
	o := Output{Name: name, Width: img.Rect.Dx(), Height: img.Rect.Dy()}
	if opaque {
		// All alpha is 255 (forced, in case resampling rounded one down),
		// so the NRGBA pixels are valid RGBA pixels and the JPEG encoder
		// takes its fast RGBA path.
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 0xff
		}
		rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
		if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			panic(fmt.Sprintf("media/process: encoding jpeg to memory: %v", err)) // cannot happen: bytes.Buffer does not fail
		}
		o.ContentType = "image/jpeg"
	} else {
		enc := png.Encoder{CompressionLevel: png.DefaultCompression}
		if err := enc.Encode(&buf, img); err != nil {
			panic(fmt.Sprintf("media/process: encoding png to memory: %v", err))
		}
		o.ContentType = "image/png"
	}
	o.Data = buf.Bytes()
	return o
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

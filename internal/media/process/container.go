package process

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// This file walks the container structure of each accepted image format to
// find where the image really ends, without decoding pixels, so data glued
// after it (an HTML or script polyglot) can be refused. It also picks the
// EXIF orientation out of JPEG APP1 segments on the way.

var errStructure = errors.New("malformed container")

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// imageEnd returns the offset just past the end of the image in data, and the
// JPEG EXIF orientation (1 for other formats or when absent).
func imageEnd(contentType string, data []byte) (end, orientation int, err error) {
	switch contentType {
	case "image/png":
		end, err = pngEnd(data)
		return end, 1, err
	case "image/jpeg":
		return jpegEnd(data, true)
	case "image/gif":
		end, err = gifEnd(data)
		return end, 1, err
	case "image/webp":
		end, err = webpEnd(data)
		return end, 1, err
	}
	return 0, 1, errStructure
}

// isPadding reports whether b holds nothing but NUL bytes and ASCII
// whitespace, which some tools append after an image.
func isPadding(b []byte) bool {
	for _, c := range b {
		switch c {
		case 0, ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// pngEnd walks PNG chunks up to and including IEND.
func pngEnd(data []byte) (int, error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return 0, errStructure
	}
	p := len(pngSignature)
	for {
		if len(data)-p < 12 {
			return 0, errStructure
		}
		n := int64(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		next := int64(p) + 12 + n
		if n > 1<<31-1 || next > int64(len(data)) {
			return 0, errStructure
		}
		p = int(next)
		if typ == "IEND" {
			return p, nil
		}
	}
}

// jpegEnd walks JPEG markers from SOI to EOI, skipping segments by their
// length and entropy-coded data by its markers, so an FFD9 hidden inside a
// segment (or appended after a payload) cannot fake the end. When the image
// declares an MPF (CIPA multi-picture) APP2 segment, the extra pictures
// cameras store after the first EOI are walked too and count as part of the
// image. readEXIF asks for the EXIF orientation of the first picture.
func jpegEnd(data []byte, readEXIF bool) (end, orientation int, err error) {
	orientation = 1
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0, 1, errStructure
	}
	p := 2
	mpf := false
	for {
		// A marker: one or more 0xFF fill bytes and a code.
		if p >= len(data) || data[p] != 0xFF {
			return 0, 1, errStructure
		}
		for p < len(data) && data[p] == 0xFF {
			p++
		}
		if p >= len(data) {
			return 0, 1, errStructure
		}
		m := data[p]
		p++
		switch {
		case m == 0xD9: // EOI
			if mpf {
				p = skipMPFImages(data, p)
			}
			return p, orientation, nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // TEM, RSTn: no length
			continue
		case m == 0x00 || m == 0xD8:
			return 0, 1, errStructure
		}
		if len(data)-p < 2 {
			return 0, 1, errStructure
		}
		n := int(binary.BigEndian.Uint16(data[p:]))
		if n < 2 || p+n > len(data) {
			return 0, 1, errStructure
		}
		seg := data[p+2 : p+n]
		p += n
		switch m {
		case 0xE1: // APP1
			if readEXIF && orientation == 1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				orientation = exifOrientation(seg[6:])
			}
		case 0xE2: // APP2
			if bytes.HasPrefix(seg, []byte("MPF\x00")) {
				mpf = true
			}
		case 0xDA: // SOS: entropy-coded data follows, up to the next marker
			for {
				i := bytes.IndexByte(data[p:], 0xFF)
				if i < 0 {
					return 0, 1, errStructure
				}
				p += i
				if p+1 >= len(data) {
					return 0, 1, errStructure
				}
				c := data[p+1]
				if c == 0x00 || (c >= 0xD0 && c <= 0xD7) { // stuffed byte or restart marker
					p += 2
					continue
				}
				if c == 0xFF { // fill byte before a marker
					p++
					continue
				}
				break
			}
		}
	}
}

// skipMPFImages returns the offset after the well-formed JPEG pictures that
// directly follow p (allowing padding between them), or p if there are none.
func skipMPFImages(data []byte, p int) int {
	for {
		q := p
		for q < len(data) && isPadding(data[q:q+1]) {
			q++
		}
		if q+1 >= len(data) || data[q] != 0xFF || data[q+1] != 0xD8 {
			return p
		}
		n, _, err := jpegEnd(data[q:], false)
		if err != nil {
			return p
		}
		p = q + n
	}
}

// exifOrientation reads tag 0x0112 (Orientation) from IFD0 of a TIFF
// structure (the EXIF payload after "Exif\0\0"). It returns 1 when the tag
// is absent, malformed or out of range.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 1
	}
	ifd := int64(bo.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 1
	}
	n := int64(bo.Uint16(tiff[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(tiff)) {
			return 1
		}
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		if bo.Uint16(tiff[e+2:]) != 3 { // SHORT
			return 1
		}
		v := int(bo.Uint16(tiff[e+8:]))
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

// gifEnd walks GIF blocks up to the trailer (0x3B). A file that stops
// cleanly at a block boundary without a trailer ends there (browsers accept
// such files).
func gifEnd(data []byte) (int, error) {
	if len(data) < 13 {
		return 0, errStructure
	}
	p := 13
	if flags := data[10]; flags&0x80 != 0 {
		p += 3 << ((flags & 7) + 1)
	}
	subBlocks := func() error {
		for {
			if p >= len(data) {
				return errStructure
			}
			n := int(data[p])
			p++
			if n == 0 {
				return nil
			}
			p += n
		}
	}
	for {
		if p > len(data) {
			return 0, errStructure
		}
		if p == len(data) {
			return p, nil
		}
		switch data[p] {
		case 0x3B: // trailer
			return p + 1, nil
		case 0x21: // extension: introducer, label, sub-blocks
			p += 2
			if err := subBlocks(); err != nil {
				return 0, err
			}
		case 0x2C: // image descriptor, optional local color table, LZW code size, sub-blocks
			if p+10 > len(data) {
				return 0, errStructure
			}
			flags := data[p+9]
			p += 10
			if flags&0x80 != 0 {
				p += 3 << ((flags & 7) + 1)
			}
			p++ // LZW minimum code size
			if err := subBlocks(); err != nil {
				return 0, err
			}
		default:
			return 0, errStructure
		}
	}
}

// webpEnd returns the end of the RIFF container: its declared size + 8.
func webpEnd(data []byte) (int, error) {
	if len(data) < 12 {
		return 0, errStructure
	}
	n := int64(binary.LittleEndian.Uint32(data[4:])) + 8
	if n < 12 || n > int64(len(data)) {
		return 0, errStructure
	}
	return int(n), nil
}

package process

import (
	"bytes"
	"encoding/binary"
	"net/http"
)

// SniffLen is how many leading bytes Sniff looks at; passing more is harmless.
const SniffLen = 512

// Sniff returns the real content type of a file from its first bytes,
// ignoring any name or client-declared type: image/jpeg, image/png,
// image/gif, image/webp, video/mp4, video/webm, video/quicktime, image/heic,
// image/avif, or otherwise what net/http.DetectContentType says (e.g.
// "text/html; charset=utf-8", "text/xml; charset=utf-8",
// "application/octet-stream").
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case bytes.HasPrefix(head, []byte("\xFF\xD8\xFF")):
		return "image/jpeg"
	case bytes.HasPrefix(head, pngSignature):
		return "image/png"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "image/gif"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	case bytes.HasPrefix(head, []byte("\x1A\x45\xDF\xA3")):
		// EBML: WebM and Matroska share the container; ffmpeg reads both
		// with the same demuxer.
		return "video/webm"
	}
	if ct := sniffISOBMFF(head); ct != "" {
		return ct
	}
	return http.DetectContentType(head)
}

// sniffISOBMFF recognises an ISO base media file (MP4, QuickTime, HEIF,
// AVIF) by its leading ftyp box and brands.
func sniffISOBMFF(head []byte) string {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return ""
	}
	size := int(binary.BigEndian.Uint32(head[:4]))
	if size < 12 || size%4 != 0 {
		return ""
	}
	size = min(size, len(head))
	major := string(head[8:12])
	var brands []string
	brands = append(brands, major)
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	switch major {
	case "qt  ":
		return "video/quicktime"
	case "avif", "avis":
		return "image/avif"
	case "heic", "heix", "heim", "heis", "mif1", "msf1":
		return "image/heic"
	}
	for _, b := range brands {
		switch b {
		case "isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "dash", "M4V ", "MSNV", "3gp4", "3gp5", "3gp6", "3g2a":
			return "video/mp4"
		}
	}
	return ""
}

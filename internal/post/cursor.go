package post

import (
	"encoding/base64"
	"strings"
)

// EncodeCursor joins the parts of a position (a post ID; a time and a user
// ID) into an opaque page cursor. Adapters share it so that cursors look the
// same on every engine.
func EncodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

// DecodeCursor splits a cursor made by EncodeCursor with n parts; "" is the
// first page (nil parts). Anything else malformed is ErrBadCursor.
func DecodeCursor(s string, n int) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != n {
		return nil, ErrBadCursor
	}
	for _, p := range parts {
		if p == "" {
			return nil, ErrBadCursor
		}
	}
	return parts, nil
}

package timeline

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadCursor means a page cursor is malformed.
var ErrBadCursor = errors.New("invalid cursor")

// EncodeCursor makes the opaque cursor that continues after e. Adapters
// share it so cursors mean the same on every engine.
func EncodeCursor(e Entry) string {
	raw := strconv.FormatInt(e.At.UnixMilli(), 10) + "\x00" + e.PostID + "\x00" + e.RepostedBy
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reverses EncodeCursor; ok is false for "" (first page).
func DecodeCursor(s string) (e Entry, ok bool, err error) {
	if s == "" {
		return Entry{}, false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Entry{}, false, ErrBadCursor
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[1] == "" {
		return Entry{}, false, ErrBadCursor
	}
	ms, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || ms < 0 {
		return Entry{}, false, ErrBadCursor
	}
	return Entry{At: time.UnixMilli(ms).UTC(), PostID: parts[1], RepostedBy: parts[2]}, true, nil
}

// Before reports whether a sorts after b in a timeline (is older), by
// (At, PostID, RepostedBy) descending.
func Before(a, b Entry) bool {
	am, bm := a.At.UnixMilli(), b.At.UnixMilli()
	if am != bm {
		return am < bm
	}
	if a.PostID != b.PostID {
		return a.PostID < b.PostID
	}
	return a.RepostedBy < b.RepostedBy
}

package graph

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EncodeCursor turns the last edge of a page into the opaque cursor of the
// next page. Adapters share it so cursors mean the same on every engine.
func EncodeCursor(e Edge) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(e.At.UnixNano(), 10) + ":" + e.UserID))
}

// DecodeCursor reverses EncodeCursor; "" is the zero edge (first page).
// A malformed cursor is ErrBadCursor.
func DecodeCursor(s string) (Edge, bool, error) {
	if s == "" {
		return Edge{}, false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Edge{}, false, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return Edge{}, false, ErrBadCursor
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < 0 {
		return Edge{}, false, ErrBadCursor
	}
	return Edge{UserID: id, At: time.Unix(0, n).UTC()}, true, nil
}

// PageOf trims edges (fetched with limit+1) to a page and sets Next.
func PageOf(edges []Edge, limit int) Page {
	if len(edges) > limit {
		return Page{Edges: edges[:limit], Next: EncodeCursor(edges[limit-1])}
	}
	return Page{Edges: edges}
}

// CheckLimit validates a list limit.
func CheckLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("graph: limit %d must be positive", limit)
	}
	return nil
}

// EncodeScanCursor is the opaque cursor of a scan whose last item is key
// (an adapter's own position: a key pair, an index key).
func EncodeScanCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// DecodeScanCursor reverses EncodeScanCursor; "" starts the scan. A
// malformed cursor is ErrBadCursor.
func DecodeScanCursor(s string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", ErrBadCursor
	}
	return string(raw), nil
}

package neo4j

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/graph"
)

// Sort keys: owner + "!" + 20-digit nanos + "!" + other, the IDs escaped so
// that the key's string order is the port's order. An escaped ID is
// printable ASCII, never holds the separator, and keeps the byte order of
// IDs (prefixes included): bytes '$'..'~' stand for themselves, lower bytes
// become '"' and two hex digits, higher bytes (UTF-8 beyond ASCII) DEL and
// two hex digits. As '!' sorts below every character of an escaped ID, a
// user's keys are exactly the strings between owner+"!" and owner+"\"".
// Being ASCII, keys compare the same as bytes, UTF-16 units or code points.
const (
	keySep    = '!'
	escLow    = '"'    // escapes bytes below litFirst
	escHigh   = '\x7f' // escapes bytes above litLast
	litFirst  = '$'
	litLast   = '~'
	hexDigits = "0123456789ABCDEF"
	nanoWidth = 20
)

func escapeID(b *strings.Builder, id string) {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c < litFirst:
			b.WriteByte(escLow)
		case c > litLast:
			b.WriteByte(escHigh)
		default:
			b.WriteByte(c)
			continue
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

func unescapeID(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != escLow && c != escHigh {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// keyPrefix is the start of every key in owner's list (exclusive lower bound).
func keyPrefix(owner string) string {
	var b strings.Builder
	escapeID(&b, owner)
	b.WriteByte(keySep)
	return b.String()
}

// keyEnd is above every key in owner's list (exclusive upper bound).
func keyEnd(owner string) string {
	var b strings.Builder
	escapeID(&b, owner)
	b.WriteByte(keySep + 1)
	return b.String()
}

// sortKey is the key of the edge made at at between owner and other, in
// owner's list.
func sortKey(owner string, at int64, other string) string {
	var b strings.Builder
	escapeID(&b, owner)
	b.WriteByte(keySep)
	ns := strconv.FormatInt(at, 10)
	b.WriteString(strings.Repeat("0", max(0, nanoWidth-len(ns))))
	b.WriteString(ns)
	b.WriteByte(keySep)
	escapeID(&b, other)
	return b.String()
}

// parseTail reads the edge from a key with its owner prefix cut off
// (nanos + "!" + other).
func parseTail(tail string) (graph.Edge, error) {
	if len(tail) <= nanoWidth || tail[nanoWidth] != keySep {
		return graph.Edge{}, fmt.Errorf("malformed sort key tail %q", tail)
	}
	at, err := strconv.ParseInt(tail[:nanoWidth], 10, 64)
	if err != nil {
		return graph.Edge{}, fmt.Errorf("malformed sort key tail %q: %w", tail, err)
	}
	id, err := unescapeID(tail[nanoWidth+1:])
	if err != nil {
		return graph.Edge{}, err
	}
	return graph.Edge{UserID: id, At: time.Unix(0, at).UTC()}, nil
}

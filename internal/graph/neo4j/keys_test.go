package neo4j

import (
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestSortKeys checks that sort keys order edges like the port (time, then
// user ID bytes), that a user's keys lie strictly between its bounds while
// other users' keys do not, and that the tail parses back.
func TestSortKeys(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{0, 1, ' ', '!', '"', '#', '$', '0', '9', 'A', 'Z', '_', 'a', 'z', '|', '}', '~', 0x7f, 0x80, 0xc3, 0xa9, 0xff}
	randID := func() string {
		b := make([]byte, rng.Intn(5))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return string(b)
	}
	type edge struct {
		owner, other string
		at           int64
	}
	var edges []edge
	for i := 0; i < 5000; i++ {
		edges = append(edges, edge{randID(), randID(), int64(rng.Intn(4))})
	}
	edges = append(edges, edge{"u", "v", 0}, edge{"u", "v", 1<<63 - 1}, edge{"u|x", "v", 1}, edge{"u", "", 5}, edge{"", "u", 5})
	for _, e := range edges {
		k := sortKey(e.owner, e.at, e.other)
		for i := 0; i < len(k); i++ {
			if k[i] < ' ' || k[i] > 0x7f {
				t.Fatalf("key %q is not printable ASCII", k)
			}
		}
		lo, hi := keyPrefix(e.owner), keyEnd(e.owner)
		if !(lo < k && k < hi) {
			t.Errorf("key %q outside its owner's bounds (%q, %q)", k, lo, hi)
		}
		got, err := parseTail(k[len(lo):])
		if err != nil || got.UserID != e.other || !got.At.Equal(time.Unix(0, e.at)) {
			t.Errorf("parseTail(%q) = %+v, %v; want %q at %d", k[len(lo):], got, err, e.other, e.at)
		}
	}
	for i := 0; i < len(edges); i++ {
		a, b := edges[i], edges[rng.Intn(len(edges))]
		ka, kb := sortKey(a.owner, a.at, a.other), sortKey(b.owner, b.at, b.other)
		if a.owner != b.owner {
			if lo, hi := keyPrefix(a.owner), keyEnd(a.owner); lo < kb && kb < hi {
				t.Errorf("key %q of owner %q lies in the bounds of owner %q", kb, b.owner, a.owner)
			}
			continue
		}
		want := a.at < b.at || a.at == b.at && a.other < b.other
		if got := ka < kb; got != want {
			t.Errorf("key(%q,%d) < key(%q,%d) = %v, want %v", a.other, a.at, b.other, b.at, got, want)
		}
	}
	// Escaping keeps the byte order of IDs, prefixes included.
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = randID()
	}
	sort.Strings(ids)
	for i := 1; i < len(ids); i++ {
		var a, b strings.Builder
		escapeID(&a, ids[i-1])
		escapeID(&b, ids[i])
		if a.String() > b.String() {
			t.Errorf("escape(%q) = %q > escape(%q) = %q", ids[i-1], a.String(), ids[i], b.String())
		}
	}
	for _, bad := range []string{"", "123", "00000000000000000001", "00000000000000000001x", "0000000000000000000x!a", "00000000000000000001!\"4", "00000000000000000001!\"ZZ"} {
		if _, err := parseTail(bad); err == nil {
			t.Errorf("parseTail(%q) succeeded", bad)
		}
	}
}

package sqlite

import "testing"

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"alice", "alice", 2, 0},
		{"alise", "alice", 2, 1},
		{"alcie", "alice", 2, 1}, // transposition
		{"alic", "alice", 2, 1},
		{"xalice", "alice", 2, 1},
		{"bob", "alice", 2, 3}, // over the limit
		{"ab", "abcdef", 2, 3},
		{"", "ab", 2, 2},
	} {
		if got := editDistance([]rune(c.a), []rune(c.b), c.limit); got != c.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", c.a, c.b, c.limit, got, c.want)
		}
	}
}

func TestSimilarityMatchesPgTrgm(t *testing.T) {
	// Values pg_trgm 1.6 returns for similarity().
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"alise", "alice", 3.0 / 9},
		{"bop", "bob", 2.0 / 6},
		{"alcie", "alice", 2.0 / 10},
		{"alise", "alice_abc123", 0.2},
		{"word", "two words", 4.0 / 11},
	} {
		if got := similarity(trigrams(c.a), trigrams(c.b)); got < c.want-1e-6 || got > c.want+1e-6 {
			t.Errorf("similarity(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestFuzzyScore(t *testing.T) {
	if sc := fuzzyScore("alise", "zed", "alice smith"); sc < fuzzyThreshold {
		t.Errorf("alise vs Alice Smith = %v, want a match", sc)
	}
	if sc := fuzzyScore("alcie", "alice", ""); sc < fuzzyThreshold {
		t.Errorf("alcie vs alice = %v, want a match", sc)
	}
	if sc := fuzzyScore("qzxvjk", "alice", "bob smith"); sc >= fuzzyThreshold {
		t.Errorf("nonsense scored %v", sc)
	}
}

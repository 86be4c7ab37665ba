package sqlite

import (
	"unicode"
	"unicode/utf8"
)

// fuzzyScore scores q against a profile's lowercased handle and display name:
// the best of pg_trgm-style trigram similarity (against each whole field and
// each word) and, when q is within a typo or two of a field or word
// (Elasticsearch's AUTO: 1 edit for 3–5 characters, 2 beyond), 1 - edits/length.
func fuzzyScore(q, handle, name string) float64 {
	targets := append([]string{handle, name}, words(handle)...)
	targets = append(targets, words(name)...)
	qg := trigrams(q)
	qn := utf8.RuneCountInString(q)
	typos := 1
	if qn > 5 {
		typos = 2
	}
	qr := []rune(q)
	best := 0.0
	seen := map[string]bool{}
	for _, t := range targets {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		best = max(best, similarity(qg, trigrams(t)))
		tr := []rune(t)
		if d := editDistance(qr, tr, typos); d <= typos {
			best = max(best, 1-float64(d)/float64(max(qn, len(tr))))
		}
	}
	return best
}

// words splits s into runs of letters and digits (pg_trgm's words).
func words(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			out = append(out, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// trigrams is pg_trgm's set: each word padded with two spaces before and one
// after, cut into every run of three characters.
func trigrams(s string) map[string]struct{} {
	set := map[string]struct{}{}
	for _, w := range words(s) {
		r := []rune("  " + w + " ")
		for i := 0; i+3 <= len(r); i++ {
			set[string(r[i:i+3])] = struct{}{}
		}
	}
	return set
}

// similarity is shared trigrams over all trigrams (pg_trgm's similarity).
func similarity(a, b map[string]struct{}) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	shared := 0
	for g := range a {
		if _, ok := b[g]; ok {
			shared++
		}
	}
	return float64(shared) / float64(len(a)+len(b)-shared)
}

// editDistance is the optimal string alignment distance (insertions,
// deletions, substitutions, adjacent transpositions) of a and b, or a value
// above limit as soon as it must exceed limit.
func editDistance(a, b []rune, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

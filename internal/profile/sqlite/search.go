package sqlite

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ejazz/ejazz/internal/profile"
)

// Search tuning.
const (
	// maxLimit caps a page (the port allows fewer than asked).
	maxLimit = 1000
	// fuzzyMinRunes: shorter queries match by prefix only.
	fuzzyMinRunes = 3
	// fuzzyCandidates bounds the FTS rows (best bm25 first) scored for fuzzy matches.
	fuzzyCandidates = 1000
	// fuzzyThreshold is the least fuzzy score that matches.
	fuzzyThreshold = 0.3
	// maxQueryTrigrams bounds the OR terms of the fuzzy candidate query.
	maxQueryTrigrams = 64
)

// Ranking tiers, best first.
const (
	tierExactHandle = iota
	tierHandlePrefix
	tierNamePrefix
	tierFuzzy
)

var errInvalidCursor = errors.New("invalid cursor")

// hit is a ranked match; (tier, -score, key) orders the results.
type hit struct {
	p     profile.Profile
	key   string // lower(handle) as SQLite computes it: unique, the tie-break
	tier  int
	score float64 // fuzzy tier only
}

// cursor is the position after the last hit of a page, bound to its query.
type cursor struct {
	Q string  `json:"q"`
	T int     `json:"t"`
	S float64 `json:"s"`
	K string  `json:"k"`
}

func (h hit) cursor(q string) string {
	b, _ := json.Marshal(cursor{Q: q, T: h.tier, S: h.score, K: h.key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, q string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errInvalidCursor
	}
	var c cursor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.InputOffset() != int64(len(b)) ||
		c.Q != q || c.T < tierExactHandle || c.T > tierFuzzy || c.K == "" {
		return nil, errInvalidCursor
	}
	return &c, nil
}

// after reports whether h comes after the cursor position c.
func (h hit) after(c *cursor) bool {
	if c == nil {
		return true
	}
	if h.tier != c.T {
		return h.tier > c.T
	}
	if h.score != c.S {
		return h.score < c.S
	}
	return h.key > c.K
}

func compareHits(a, b hit) int {
	switch {
	case a.tier != b.tier:
		return a.tier - b.tier
	case a.score > b.score:
		return -1
	case a.score < b.score:
		return 1
	}
	return strings.Compare(a.key, b.key)
}

// normalizeQuery drops invalid UTF-8 and control characters, collapses
// whitespace and lowercases.
func normalizeQuery(q string) string {
	q = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(q, ""))
	return strings.ToLower(strings.Join(strings.Fields(q), " "))
}

// Search ranks exact handle, handle prefix, display-name prefix or word
// prefix, then fuzzy matches (queries of 3+ characters), ties by lowercased
// handle. The cursor is a keyset position (tier, score, handle) encoded as
// base64 JSON, so pages stay consistent while profiles change.
func (s *Store) Search(ctx context.Context, query string, limit int, cur string) ([]profile.Profile, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("search profiles: limit %d must be positive", limit)
	}
	limit = min(limit, maxLimit)
	q := normalizeQuery(query)
	after, err := decodeCursor(cur, q)
	if err != nil {
		return nil, "", err
	}
	if q == "" {
		return nil, "", nil
	}
	var hits []hit
	if after == nil || after.T <= tierHandlePrefix {
		if hits, err = s.handlePrefix(ctx, q, after, limit+1); err != nil {
			return nil, "", err
		}
	}
	if len(hits) <= limit {
		// The handle prefixes are exhausted: the later tiers follow.
		rest, err := s.laterTiers(ctx, q)
		if err != nil {
			return nil, "", err
		}
		for _, h := range rest {
			if h.after(after) {
				hits = append(hits, h)
				if len(hits) > limit {
					break
				}
			}
		}
	}
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next = hits[limit-1].cursor(q)
	}
	out := make([]profile.Profile, len(hits))
	for i, h := range hits {
		out[i] = h.p
	}
	return out, next, nil
}

// handlePrefix returns tiers 0 and 1 (after c) in order: lowercased handles
// starting with q, by the unique index on lower(handle). q itself, the exact
// match, sorts first.
func (s *Store) handlePrefix(ctx context.Context, q string, c *cursor, n int) ([]hit, error) {
	from := ""
	if c != nil {
		from = c.K
	}
	// Every string with prefix q sorts in [q, q+"\xff"): no UTF-8 byte is 0xff.
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+`, lower(handle) FROM profiles
WHERE lower(handle) >= ? AND lower(handle) < ? AND lower(handle) > ?
ORDER BY lower(handle) LIMIT ?`, q, q+"\xff", from, n)
	if err != nil {
		return nil, fmt.Errorf("search profiles: %w", err)
	}
	defer rows.Close()
	var hits []hit
	for rows.Next() {
		h := hit{tier: tierHandlePrefix}
		if h.p, err = scanProfile(rows, &h.key); err != nil {
			return nil, fmt.Errorf("search profiles: %w", err)
		}
		if h.key == q {
			h.tier = tierExactHandle
		}
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

// laterTiers returns every display-name match and the fuzzy matches among a
// bounded candidate set, ranked.
func (s *Store) laterTiers(ctx context.Context, q string) ([]hit, error) {
	found := map[string]hit{}
	collect := func(query string, args ...any) error {
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("search profiles: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var h hit
			if h.p, err = scanProfile(rows, &h.key); err != nil {
				return fmt.Errorf("search profiles: %w", err)
			}
			if _, seen := found[h.p.UserID]; seen {
				continue
			}
			if h.tier, h.score = classify(q, h.key, h.p.DisplayName); h.tier >= tierNamePrefix {
				found[h.p.UserID] = h
			}
		}
		return rows.Err()
	}
	const fromFTS = ` FROM profiles_fts f
JOIN profiles_search_ids i ON i.id = f.rowid
JOIN profiles p ON p.user_id = i.user_id`
	pcols := "p.user_id, p.handle, p.display_name, p.bio, p.avatar_media_id, p.is_private, p.created_at, lower(p.handle)"
	fuzzy := utf8.RuneCountInString(q) >= fuzzyMinRunes
	var err error
	switch {
	case fuzzy:
		// Display names containing q (a superset of the word prefixes).
		err = collect(`SELECT `+pcols+fromFTS+` WHERE f.display_name MATCH ?`, ftsPhrase(ftsText(q)))
	case isASCII(q):
		// Too short for trigrams: scan (LIKE folds ASCII case).
		err = collect(`SELECT `+columns+`, lower(handle) FROM profiles WHERE display_name LIKE ? ESCAPE '\'`, "%"+likeEscape(q)+"%")
	default:
		err = collect(`SELECT ` + columns + `, lower(handle) FROM profiles WHERE display_name <> ''`)
	}
	if err != nil {
		return nil, err
	}
	if fuzzy {
		if m := ftsAnyTrigram(q); m != "" {
			err = collect(`SELECT `+pcols+` FROM (SELECT rowid AS id FROM profiles_fts WHERE profiles_fts MATCH ? ORDER BY rank LIMIT ?) m
JOIN profiles_search_ids i ON i.id = m.id
JOIN profiles p ON p.user_id = i.user_id`, m, fuzzyCandidates)
			if err != nil {
				return nil, err
			}
		}
	}
	hits := make([]hit, 0, len(found))
	for _, h := range found {
		hits = append(hits, h)
	}
	slices.SortFunc(hits, compareHits)
	return hits, nil
}

// classify returns the tier of a profile for q (-1: no match) and, in the
// fuzzy tier, its score.
func classify(q, key, displayName string) (int, float64) {
	if key == q {
		return tierExactHandle, 0
	}
	if strings.HasPrefix(key, q) {
		return tierHandlePrefix, 0
	}
	name := strings.ToLower(displayName)
	if strings.HasPrefix(name, q) || strings.Contains(name, " "+q) {
		return tierNamePrefix, 0
	}
	if utf8.RuneCountInString(q) < fuzzyMinRunes {
		return -1, 0
	}
	if sc := fuzzyScore(q, key, name); sc >= fuzzyThreshold {
		return tierFuzzy, sc
	}
	return -1, 0
}

// ftsText is the query-side twin of the SQL searchText (without padding).
func ftsText(s string) string {
	return strings.NewReplacer("_", " ", "-", " ", ".", " ", "'", " ").Replace(s)
}

// ftsPhrase quotes s as one FTS5 string: inside double quotes every character
// (operators, *, ^, :, parentheses) is literal; quotes are doubled.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// ftsAnyTrigram is an FTS5 query matching rows that share a trigram with the
// space-padded query, each trigram a quoted string.
func ftsAnyTrigram(q string) string {
	r := []rune(" " + ftsText(q) + " ")
	seen := map[string]bool{}
	var terms []string
	for i := 0; i+3 <= len(r) && len(terms) < maxQueryTrigrams; i++ {
		g := string(r[i : i+3])
		if seen[g] || strings.TrimSpace(g) == "" {
			continue
		}
		seen[g] = true
		terms = append(terms, ftsPhrase(g))
	}
	return strings.Join(terms, " OR ")
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

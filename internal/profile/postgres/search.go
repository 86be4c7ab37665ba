package postgres

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/ejazz/ejazz/internal/profile"
)

// Search tuning.
const (
	// maxLimit caps a page (the port allows fewer than asked).
	maxLimit = 1000
	// fuzzyMinRunes: shorter queries match by prefix only.
	fuzzyMinRunes = 3
	// similarityThreshold (pg_trgm's %) applies to the whole handle,
	// wordSimilarityThreshold (<%) to the best-matching part of the handle or
	// display name: 0.3 lets one typo in a 4–5 letter word through.
	similarityThreshold     = "0.3"
	wordSimilarityThreshold = "0.3"
)

var errInvalidCursor = errors.New("invalid cursor")

// cursor is the position after the last row of a page, bound to its query:
// the keyset (tier, score, lower(handle)) of the ranking.
type cursor struct {
	Q string  `json:"q"`
	T int32   `json:"t"`
	S float32 `json:"s"`
	K string  `json:"k"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
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
	if err := dec.Decode(&c); err != nil || dec.InputOffset() != int64(len(b)) || c.Q != q || c.T < 0 || c.T > 3 || c.K == "" {
		return nil, errInvalidCursor
	}
	return &c, nil
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

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// trgmSchema returns the quoted schema pg_trgm lives in.
func (s *Store) trgmSchema(ctx context.Context) (string, error) {
	if p := s.trgm.Load(); p != nil {
		return *p, nil
	}
	var schema string
	err := s.db.QueryRow(ctx, `SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errors.New("search profiles: the pg_trgm extension is not installed (run the migrations)")
	}
	if err != nil {
		return "", fmt.Errorf("search profiles: %w", err)
	}
	s.trgm.Store(&schema)
	return schema, nil
}

// searchSQL ranks the matches of $1 (the lowercased query; $2 = 'q%', $3 =
// '% q%', escaped): tier 0 exact handle, 1 handle prefix, 2 display name
// starting with q or with a word (after a space) starting with q, 3 fuzzy
// (trigram similarity of the handle, or word similarity of the handle or
// display name, above the thresholds), scored by the best similarity; ties
// by lowercased handle in byte order. $4..$7 are the keyset of the cursor,
// $8 the page size plus one. Every condition in WHERE can use a GIN trigram
// index, so the matches come from bitmap index scans and only they are ranked.
func searchSQL(trgm string, fuzzy bool) string {
	prefix := `lower(p.handle) LIKE $2 OR lower(p.display_name) LIKE $2 OR lower(p.display_name) LIKE $3`
	score := `0::real`
	where := prefix
	if fuzzy {
		score = fmt.Sprintf(`CASE WHEN %[2]s THEN 0::real ELSE greatest(
			%[1]s.similarity(lower(p.handle), $1),
			%[1]s.word_similarity($1, lower(p.handle)),
			%[1]s.word_similarity($1, lower(p.display_name))) END`, trgm, prefix)
		where = fmt.Sprintf(`%[2]s
		OR lower(p.handle) OPERATOR(%[1]s.%%) $1
		OR $1 OPERATOR(%[1]s.<%%) lower(p.handle)
		OR $1 OPERATOR(%[1]s.<%%) lower(p.display_name)`, trgm, prefix)
	}
	return `SELECT ` + columns + `, tier, score, hkey FROM (
	SELECT p.user_id, p.handle, p.display_name, p.bio, p.avatar_media_id, p.is_private, p.created_at,
		lower(p.handle) COLLATE "C" AS hkey,
		CASE WHEN lower(p.handle) = $1 THEN 0
			WHEN lower(p.handle) LIKE $2 THEN 1
			WHEN lower(p.display_name) LIKE $2 OR lower(p.display_name) LIKE $3 THEN 2
			ELSE 3 END AS tier,
		` + score + ` AS score
	FROM profiles p
	WHERE ` + where + `
) m
WHERE NOT $4 OR tier > $5 OR (tier = $5 AND (score < $6 OR (score = $6 AND hkey > $7 COLLATE "C")))
ORDER BY tier, score DESC, hkey COLLATE "C"
LIMIT $8`
}

// Search ranks exact handle, handle prefix, display-name prefix or word
// prefix, then fuzzy matches (queries of 3+ characters); the cursor is a
// keyset position, so pages stay consistent while profiles change.
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
	trgm, err := s.trgmSchema(ctx)
	if err != nil {
		return nil, "", err
	}
	fuzzy := utf8.RuneCountInString(q) >= fuzzyMinRunes
	var from cursor
	if after != nil {
		from = *after
	}
	var (
		out  []profile.Profile
		keys []cursor
	)
	run := func(db interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}) error {
		rows, err := db.Query(ctx, searchSQL(trgm, fuzzy),
			q, likeEscape(q)+"%", "% "+likeEscape(q)+"%", after != nil, from.T, from.S, from.K, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k := cursor{Q: q}
			p, err := scanProfile(rows, &k.T, &k.S, &k.K)
			if err != nil {
				return err
			}
			out = append(out, p)
			keys = append(keys, k)
		}
		return rows.Err()
	}
	if fuzzy {
		// The operators' thresholds are settings: set them for this transaction only.
		err = pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('pg_trgm.similarity_threshold', $1, true), set_config('pg_trgm.word_similarity_threshold', $2, true)`,
				similarityThreshold, wordSimilarityThreshold); err != nil {
				return err
			}
			return run(tx)
		})
	} else {
		err = run(s.db)
	}
	if err != nil {
		return nil, "", fmt.Errorf("search profiles: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = keys[limit-1].encode()
	}
	return out, next, nil
}

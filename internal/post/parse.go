package post

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parsing limits.
const (
	// MaxHashtagRunes bounds one hashtag; longer runs are not tags.
	MaxHashtagRunes = 64
	// MaxTags bounds how many hashtags or mentions one post indexes.
	MaxTags = 20
)

// Parse finds the hashtags (lower-case, without '#') and the mentioned
// handles (as written, without '@') in text, each in order of first use and
// without repeats (handles compared case-insensitively), at most MaxTags of
// each. A tag or mention starts at the beginning of the text or after a
// character that is not a letter, digit or '_' (so "a@b.com" mentions no
// one); a hashtag is letters, digits and '_' with at least one letter; a
// handle is 3–30 ASCII letters, digits and '_'.
func Parse(text string) (hashtags, handles []string) {
	seenTag := map[string]bool{}
	seenHandle := map[string]bool{}
	prev := ' '
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if (r == '#' || r == '@') && !word(prev) {
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !word(r2) {
					break
				}
				j += s2
			}
			body := text[i+size : j]
			if r == '#' {
				tag := strings.ToLower(body)
				if n := utf8.RuneCountInString(tag); n > 0 && n <= MaxHashtagRunes && strings.IndexFunc(tag, unicode.IsLetter) >= 0 &&
					!seenTag[tag] && len(hashtags) < MaxTags {
					seenTag[tag] = true
					hashtags = append(hashtags, tag)
				}
			} else if handleLike(body) && !seenHandle[strings.ToLower(body)] && len(handles) < MaxTags {
				seenHandle[strings.ToLower(body)] = true
				handles = append(handles, body)
			}
			if j > i+size {
				prev = 'x'
				i = j
				continue
			}
		}
		prev = r
		i += size
	}
	return hashtags, handles
}

func word(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func handleLike(s string) bool {
	if len(s) < 3 || len(s) > 30 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// NormalizeHashtag turns user input ("#Go", "go") into the stored form, or
// "" when it is not a hashtag.
func NormalizeHashtag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	tags, _ := Parse("#" + s)
	if len(tags) == 1 && tags[0] == strings.ToLower(s) {
		return tags[0]
	}
	return ""
}

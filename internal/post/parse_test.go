package post

import (
	"fmt"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		text           string
		tags, mentions string
	}{
		{"Hello #Go and #go again, @ana!", "[go]", "[ana]"},
		{"#café #日本 #123 #a_1", "[café 日本 a_1]", "[]"},
		{"mail me at bob@example.com or @Bob_99 @bob_99 @xy", "[]", "[Bob_99]"},
		{"x#notatag y@notamention (#ok) @ok_handle.", "[ok]", "[ok_handle]"},
		{"##double @@twice #", "[double]", "[twice]"},
		{"", "[]", "[]"},
	} {
		tags, mentions := Parse(tc.text)
		if got := fmt.Sprint(tags); got != tc.tags && !(tc.tags == "[]" && tags == nil) {
			t.Errorf("Parse(%q) hashtags = %v, want %s", tc.text, tags, tc.tags)
		}
		if got := fmt.Sprint(mentions); got != tc.mentions && !(tc.mentions == "[]" && mentions == nil) {
			t.Errorf("Parse(%q) mentions = %v, want %s", tc.text, mentions, tc.mentions)
		}
	}
	for in, want := range map[string]string{"#Go": "go", "go": "go", " Café ": "café", "#": "", "a b": "", "123": "", "": ""} {
		if got := NormalizeHashtag(in); got != want {
			t.Errorf("NormalizeHashtag(%q) = %q, want %q", in, got, want)
		}
	}
}

package config

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Redacted is how Print shows a secret that is set.
const Redacted = "<redacted>"

// IsSecret reports whether key holds a secret: passwords, keys, DSNs (which
// embed passwords), tokens. Paths to secret files (…_file) are not secrets,
// nor are settings about keys ("auth.key_rotation"): the key's last part
// must end in one of the secret words.
func IsSecret(key string) bool {
	if strings.HasSuffix(key, "_file") {
		return false
	}
	last := key[strings.LastIndex(key, ".")+1:]
	for _, s := range []string{"password", "secret", "dsn", "key", "keys", "token"} {
		if strings.HasSuffix(last, s) {
			return true
		}
	}
	return false
}

// Print writes the effective configuration as sorted `key: value` lines
// (YAML-compatible), with every set secret replaced by Redacted. Map entries
// appear under their full key (features.new_composer: true,
// gateway.backends.feed: [...]); a map without entries as `key: {}`.
func (c *Config) Print(w io.Writer) error {
	flat := flatten(c, true)
	for _, k := range slices.Sorted(maps.Keys(flat)) {
		v := flat[k]
		// Only Config's own keys can be secrets; map entries are names
		// chosen by operators (a feature called "api_key" is a bool).
		if _, leaf := cfgSchema.leaves[k]; leaf && IsSecret(k) && !isZero(v) {
			v = Redacted
		}
		var s string
		switch x := v.(type) {
		case string:
			s = fmt.Sprintf("%q", x)
		case time.Duration:
			s = x.String()
		case []string:
			q := make([]string, len(x))
			for i, e := range x {
				q[i] = fmt.Sprintf("%q", e)
			}
			s = "[" + strings.Join(q, ", ") + "]"
		case emptyMap:
			s = "{}"
		default:
			s = fmt.Sprint(x)
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", k, s); err != nil {
			return err
		}
	}
	return nil
}

// isZero reports whether a printed value is unset (empty string or list).
func isZero(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	}
	return false
}

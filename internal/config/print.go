package config

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Redacted is how Print shows a secret that is set.
const Redacted = "<redacted>"

// IsSecret reports whether key holds a secret: passwords, keys, DSNs (which
// embed passwords). Paths to secret files (…_file) are not secrets.
func IsSecret(key string) bool {
	if strings.HasSuffix(key, "_file") {
		return false
	}
	last := key[strings.LastIndex(key, ".")+1:]
	for _, s := range []string{"password", "secret", "dsn", "key", "token"} {
		if strings.Contains(last, s) {
			return true
		}
	}
	return false
}

// Print writes the effective configuration as sorted `key: value` lines
// (YAML-compatible), with every set secret replaced by Redacted.
func (c *Config) Print(w io.Writer) error {
	flat := toMap(*c)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := flat[k]
		if IsSecret(k) && fmt.Sprint(v) != "" {
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
		default:
			s = fmt.Sprint(x)
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", k, s); err != nil {
			return err
		}
	}
	return nil
}

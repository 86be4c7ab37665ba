package config

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// schema describes Config's keys, derived once from the koanf tags: leaves
// are single values ("http.addr", "ratelimit.user.rate"); maps are fields
// whose entries are free-form names ("features", "gateway.backends",
// "ratelimit.expensive"), each entry a value or a struct of leaves.
type schema struct {
	leaves map[string]reflect.Type
	maps   map[string]reflect.Type // map key prefix → element type
	env    map[string]string       // lower-case env name without prefix ("s3_access_key") → leaf key
}

var durationType = reflect.TypeFor[time.Duration]()

// isStruct reports whether t is a struct of config leaves (not a Duration).
func isStruct(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != durationType }

var cfgSchema = buildSchema()

func buildSchema() *schema {
	s := &schema{leaves: map[string]reflect.Type{}, maps: map[string]reflect.Type{}, env: map[string]string{}}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("koanf")
			if name == "" {
				continue
			}
			switch {
			case isStruct(f.Type):
				walk(f.Type, prefix+name+".")
			case f.Type.Kind() == reflect.Map:
				s.maps[prefix+name] = f.Type.Elem()
			default:
				s.leaves[prefix+name] = f.Type
				s.env[strings.ReplaceAll(prefix+name, ".", "_")] = prefix + name
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return s
}

// structLeaves lists the koanf names of a map element struct's fields.
func structLeaves(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("koanf"); name != "" {
			out[name] = t.Field(i).Type
		}
	}
	return out
}

// valid reports whether key (as koanf flattens a file) names a config value.
func (s *schema) valid(key string) bool {
	return s.typeOf(key) != nil
}

// typeOf returns the Go type of the value at key, nil for unknown keys. A
// bare map key ("features") or map entry of a struct map without a leaf
// ("ratelimit.expensive.sign_in", an empty entry) has the map's or the
// element's type.
func (s *schema) typeOf(key string) reflect.Type {
	if t, ok := s.leaves[key]; ok {
		return t
	}
	for p, elem := range s.maps {
		if key == p {
			return reflect.MapOf(reflect.TypeFor[string](), elem)
		}
		rest, ok := strings.CutPrefix(key, p+".")
		if !ok || rest == "" {
			continue
		}
		if !isStruct(elem) {
			return elem // entry names may contain dots (full service names)
		}
		name, leaf, ok := cutLast(rest)
		if !ok {
			return elem
		}
		if t, known := structLeaves(elem)[leaf]; known && name != "" {
			return t
		}
		return nil
	}
	return nil
}

// isList reports whether the value at key is a list of strings.
func isList(key string) bool { return cfgSchema.typeOf(key) == reflect.TypeFor[[]string]() }

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndex(s, ".")
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// envKey maps EJAZZ_S3_ACCESS_KEY to "s3.access_key", EJAZZ_DATA_DIR to
// "data_dir", EJAZZ_FEATURES_NEW_COMPOSER to "features.new_composer",
// EJAZZ_GATEWAY_BACKENDS_FEED to "gateway.backends.feed" and
// EJAZZ_RATELIMIT_EXPENSIVE_SIGN_IN_RATE to "ratelimit.expensive.sign_in.rate";
// it returns "" for names that are no config key.
func envKey(name string) string {
	rest := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
	if key, ok := cfgSchema.env[rest]; ok {
		return key
	}
	for _, p := range slices.Sorted(maps.Keys(cfgSchema.maps)) {
		elem := cfgSchema.maps[p]
		entry, ok := strings.CutPrefix(rest, strings.ReplaceAll(p, ".", "_")+"_")
		if !ok || entry == "" {
			continue
		}
		if !isStruct(elem) {
			return p + "." + entry
		}
		for leaf := range structLeaves(elem) {
			if n, ok := strings.CutSuffix(entry, "_"+leaf); ok && n != "" {
				return p + "." + n + "." + leaf
			}
		}
	}
	return ""
}

// toMap turns a Config into the nested map koanf loads as defaults: leaves
// under flat keys, map fields as nested maps (so entries merge with the file's
// entry by entry, and entry names keep their dots).
func toMap(c Config) map[string]any {
	out := map[string]any{}
	walkValues(reflect.ValueOf(c), "", func(key string, v reflect.Value) {
		if v.Kind() == reflect.Map {
			m := map[string]any{}
			for _, k := range v.MapKeys() {
				m[k.String()] = plain(v.MapIndex(k))
			}
			out[key] = m
			return
		}
		out[key] = v.Interface()
	})
	return out
}

// plain converts a map entry to what koanf holds: a struct becomes a map of
// its koanf-tagged fields.
func plain(v reflect.Value) any {
	if !isStruct(v.Type()) {
		return v.Interface()
	}
	m := map[string]any{}
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("koanf"); name != "" {
			m[name] = plain(v.Field(i))
		}
	}
	return m
}

// walkValues calls fn for every leaf and every map field of v.
func walkValues(v reflect.Value, prefix string, fn func(key string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" {
			continue
		}
		if isStruct(f.Type) {
			walkValues(v.Field(i), prefix+name+".", fn)
			continue
		}
		fn(prefix+name, v.Field(i))
	}
}

// emptyMap stands for a map field without entries in flatten's output.
type emptyMap struct{}

// flatten returns every value of c under its full key, map entries included
// ("features.new_composer", "ratelimit.expensive.sign_in.rate",
// "gateway.backends.ejazz.feed.v1.FeedService"). With markEmpty, a map
// without entries appears under its own key as emptyMap{}.
func flatten(c *Config, markEmpty bool) map[string]any {
	out := map[string]any{}
	walkValues(reflect.ValueOf(*c), "", func(key string, v reflect.Value) {
		if v.Kind() != reflect.Map {
			out[key] = v.Interface()
			return
		}
		if v.Len() == 0 {
			if markEmpty {
				out[key] = emptyMap{}
			}
			return
		}
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			if !isStruct(e.Type()) {
				out[key+"."+k.String()] = e.Interface()
				continue
			}
			for i := range e.NumField() {
				if name := e.Type().Field(i).Tag.Get("koanf"); name != "" {
					out[key+"."+k.String()+"."+name] = e.Field(i).Interface()
				}
			}
		}
	})
	return out
}

// field returns the addressable field of c at key, a path of koanf names
// that ends at a leaf, a struct section or a map field (not inside a map).
func field(c *Config, key string) (reflect.Value, bool) {
	v := reflect.ValueOf(c).Elem()
	for part := range strings.SplitSeq(key, ".") {
		if !isStruct(v.Type()) {
			return reflect.Value{}, false
		}
		found := false
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("koanf") == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

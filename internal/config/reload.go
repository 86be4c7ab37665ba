package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reloadable lists the keys a running process applies without a restart; a
// key is reloadable when it equals an entry or lies under one ("ratelimit"
// covers ratelimit.user.rate). Every entry is a field of Config (a leaf, a
// section or a map), never a key inside a map. They are safe because each
// is read per request or swapped atomically by its consumer:
//
//   - log.level: a slog.LevelVar.
//   - ratelimit: the limiter's policy (ratelimit.Limiter.SetPolicy rescales
//     the stored buckets).
//   - features: flags are read per request through Live.Load().Feature.
//   - feed.fanout_threshold: held in a live.Int by the fan-out activity and
//     the home-timeline reader. Lowering it is seamless (the read-time merge
//     keeps one entry per post); raising it hides the earlier, not fanned-out
//     posts of authors who fall below it from home timelines.
//   - gateway.identity_keys (and its _file twin): the key ring is swapped
//     atomically, so rotating a mounted secret needs no restart.
//
// Everything else (listen addresses, engine connections, shard counts,
// workflow parameters) is fixed at start: a changed value is logged as
// requiring a restart and not applied.
var Reloadable = []string{
	"log.level",
	"ratelimit",
	"features",
	"feed.fanout_threshold",
}

// IsReloadable reports whether a change of key is applied without a restart.
func IsReloadable(key string) bool {
	for _, r := range Reloadable {
		if key == r || strings.HasPrefix(key, r+".") {
			return true
		}
	}
	return false
}

// Diff returns the keys whose values differ between a and b, sorted; map
// entries count one by one ("features.new_composer",
// "ratelimit.expensive.sign_in.rate").
func Diff(a, b *Config) []string {
	fa, fb := flatten(a, false), flatten(b, false)
	var out []string
	for k, va := range fa {
		if vb, ok := fb[k]; !ok || !reflect.DeepEqual(va, vb) {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Apply merges a freshly loaded configuration into the running one: the
// result is cur with the Reloadable keys taken from next. applied lists the
// changed keys it takes over, restart the changed keys it leaves at cur's
// values because they need a restart. Neither argument is modified; the
// result shares maps and slices with both (configurations are read-only
// once loaded).
func Apply(cur, next *Config) (merged *Config, applied, restart []string) {
	for _, k := range Diff(cur, next) {
		if IsReloadable(k) {
			applied = append(applied, k)
		} else {
			restart = append(restart, k)
		}
	}
	m := *cur
	for _, key := range Reloadable {
		dst, ok1 := field(&m, key)
		src, ok2 := field(next, key)
		if !ok1 || !ok2 {
			panic("config: Reloadable entry " + key + " is not a field of Config")
		}
		dst.Set(src)
	}
	m.file = next.file
	return &m, applied, restart
}

// ChangeFunc is told of an applied reload: old and new are the effective
// configurations before and after, changed the applied keys (never empty).
type ChangeFunc func(old, new *Config, changed []string)

// Live holds the effective configuration of a running process and reloads
// it: Load is a lock-free atomic read, fit for every request.
type Live struct {
	cur    atomic.Pointer[Config]
	reload func() (*Config, error)
	log    *slog.Logger

	reloadMu sync.Mutex // one reload (and its callbacks) at a time

	subsMu sync.Mutex
	subs   map[int]ChangeFunc
	nextID int
}

// NewLive returns a Live holding initial. reload re-runs the layered load
// (typically `func() (*Config, error) { return Load(fs, os.Environ()) }` with
// the process's own parsed flags); log receives reload outcomes (nil
// discards them).
func NewLive(initial *Config, reload func() (*Config, error), log *slog.Logger) *Live {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l := &Live{reload: reload, log: log, subs: map[int]ChangeFunc{}}
	l.cur.Store(initial)
	return l
}

// Load returns the current effective configuration; treat it as read-only.
func (l *Live) Load() *Config { return l.cur.Load() }

// Subscribe calls fn after every reload that applied changes, on the
// reloading goroutine, one call at a time; fn must not call Reload. The
// returned function unsubscribes.
func (l *Live) Subscribe(fn ChangeFunc) (unsubscribe func()) {
	l.subsMu.Lock()
	defer l.subsMu.Unlock()
	id := l.nextID
	l.nextID++
	l.subs[id] = fn
	return func() {
		l.subsMu.Lock()
		defer l.subsMu.Unlock()
		delete(l.subs, id)
	}
}

// Reload loads the configuration again and applies its reloadable changes
// (see Apply). When the load or validation fails, the current
// configuration stays and the error is returned (and logged). Changed keys
// that need a restart are logged at warn level every time they are seen.
func (l *Live) Reload() (applied, restart []string, err error) {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	next, err := l.reload()
	if err != nil {
		l.log.Error("config reload failed; keeping the current configuration", "err", err)
		return nil, nil, fmt.Errorf("config: reload: %w", err)
	}
	old := l.cur.Load()
	merged, applied, restart := Apply(old, next)
	if err := merged.Validate(); err != nil { // cross-key checks on the mix of old and new
		l.log.Error("config reload failed; keeping the current configuration", "err", err)
		return nil, nil, fmt.Errorf("config: reload: %w", err)
	}
	if len(restart) > 0 {
		l.log.Warn("config change requires a restart; not applied", "keys", restart)
	}
	if len(applied) == 0 {
		l.log.Debug("config reloaded; nothing to apply")
		return nil, restart, nil
	}
	l.cur.Store(merged)
	l.log.Info("config reloaded", "applied", applied)
	l.subsMu.Lock()
	subs := make([]ChangeFunc, 0, len(l.subs))
	for _, id := range slices.Sorted(maps.Keys(l.subs)) {
		subs = append(subs, l.subs[id])
	}
	l.subsMu.Unlock()
	for _, fn := range subs {
		fn(old, merged, applied)
	}
	return applied, restart, nil
}

// DefaultPollInterval is how often Watch checks the watched files.
const DefaultPollInterval = time.Second

// Watch reloads on SIGHUP and whenever the config file or a `_file` secret
// of the current configuration changes, until ctx is done. It returns once
// the SIGHUP handler is registered (from then on SIGHUP no longer
// terminates the process); the watching runs on its own goroutine. interval
// is the file poll interval (0 means DefaultPollInterval).
//
// Files are polled (a SHA-256 of their content each interval) rather than
// watched with fsnotify: editors and Kubernetes replace files by renaming
// (ConfigMap and Secret volumes swap a ..data symlink), which an inotify
// watch on the file itself misses and a directory watch must filter; inotify
// is also unreliable on network and some overlay filesystems. Hashing a
// handful of small files once a second costs nothing measurable and catches
// every way a file can change, including a content change that keeps size
// and mtime.
func (l *Live) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	last := fingerprint(l.Load().WatchedFiles())
	go func() {
		defer signal.Stop(hup)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				l.log.Info("config reload requested by SIGHUP")
				last = fingerprint(l.Load().WatchedFiles())
				_, _, _ = l.Reload() // outcome logged by Reload
			case <-t.C:
				fp := fingerprint(l.Load().WatchedFiles())
				if fp == last {
					continue
				}
				last = fp
				l.log.Info("config file changed; reloading")
				_, _, _ = l.Reload()
			}
		}
	}()
}

// Watch is the one-call form: it returns a Live holding base, subscribes
// onChange (when not nil) and starts (*Live).Watch with the default poll
// interval, logging to slog.Default().
func Watch(ctx context.Context, base *Config, reload func() (*Config, error), onChange ChangeFunc) *Live {
	l := NewLive(base, reload, slog.Default())
	if onChange != nil {
		l.Subscribe(onChange)
	}
	l.Watch(ctx, DefaultPollInterval)
	return l
}

// WatchedFiles lists the files a reload would read: the config file (also
// when it does not exist yet) and every `_file` secret that is set, sorted.
func (c *Config) WatchedFiles() []string {
	var out []string
	if c.file != "" {
		out = append(out, c.file)
	}
	for k, v := range flatten(c, false) {
		if _, leaf := cfgSchema.leaves[k]; leaf && strings.HasSuffix(k, "_file") && v != "" {
			out = append(out, v.(string))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fingerprint summarizes the content of files; a missing or unreadable file
// has its error instead of a hash, so appearing and vanishing count as
// changes.
func fingerprint(files []string) string {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		var h string
		if err != nil {
			h = "error: " + err.Error()
		} else {
			sum := sha256.Sum256(data)
			h = hex.EncodeToString(sum[:])
		}
		fmt.Fprintf(&b, "%s\x00%s\n", f, h)
	}
	return b.String()
}

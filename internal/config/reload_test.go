package config

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writeAtomic replaces path the way editors and Kubernetes do: a new file
// renamed over the old one.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a log sink safe for the watcher goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// changes records the calls of a ChangeFunc.
type changes struct {
	mu    sync.Mutex
	calls [][]string
}

func (c *changes) record(_, _ *Config, changed []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, changed)
}

func (c *changes) all() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// fixture is a config file, a Live loaded from it and what it logs.
type fixture struct {
	path    string
	environ []string
	live    *Live
	log     *syncBuffer
	changes *changes
}

func newFixture(t *testing.T, yaml string, environ ...string) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "ejazz.yaml"), log: &syncBuffer{}, changes: &changes{}}
	writeAtomic(t, f.path, yaml)
	f.environ = append([]string{"EJAZZ_CONFIG=" + f.path}, environ...)
	reload := func() (*Config, error) { return Load(nil, f.environ) }
	cfg, err := reload()
	if err != nil {
		t.Fatal(err)
	}
	f.live = NewLive(cfg, reload, slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	f.live.Subscribe(f.changes.record)
	return f
}

func TestWatchAppliesFileChange(t *testing.T) {
	f := newFixture(t, "ratelimit:\n  user: {rate: 20, burst: 40}\nfeatures:\n  x: false\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.live.Watch(ctx, 10*time.Millisecond)

	writeAtomic(t, f.path, "ratelimit:\n  user: {rate: 7.5, burst: 40}\nfeatures:\n  x: true\n")
	waitFor(t, "the new rate and flag", func() bool {
		c := f.live.Load()
		return c.RateLimit.User.Rate == 7.5 && c.Feature("x")
	})
	got := f.changes.all()
	if len(got) != 1 || !slices.Equal(got[0], []string{"features.x", "ratelimit.user.rate"}) {
		t.Errorf("onChange calls = %v, want one with [features.x ratelimit.user.rate]", got)
	}
}

func TestWatchReloadsOnSIGHUP(t *testing.T) {
	f := newFixture(t, "log:\n  level: info\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.live.Watch(ctx, time.Hour) // polling never fires: only the signal can reload

	// Rewrite in place keeping size and mtime, so even a poller would see no
	// metadata change; only SIGHUP triggers this reload.
	st, err := os.Stat(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path, []byte("log:\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f.path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "log.level warn after SIGHUP", func() bool { return f.live.Load().Log.Level == "warn" })
	if !strings.Contains(f.log.String(), "SIGHUP") {
		t.Errorf("log does not mention SIGHUP:\n%s", f.log.String())
	}
}

func TestReloadInvalidKeepsOld(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"invalid value", "ratelimit:\n  user: {rate: -1, burst: 40}\n", "ratelimit.user.rate"},
		{"unknown key", "ratelimit:\n  usr: {rate: 1}\n", `unknown key "ratelimit.usr.rate"`},
		{"broken yaml", "ratelimit: [\n", "ejazz.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "ratelimit:\n  user: {rate: 20, burst: 40}\n")
			before := f.live.Load()
			writeAtomic(t, f.path, tc.yaml)
			_, _, err := f.live.Reload()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Reload error = %v, want it to mention %q", err, tc.want)
			}
			if f.live.Load() != before {
				t.Error("an invalid reload replaced the configuration")
			}
			if len(f.changes.all()) != 0 {
				t.Errorf("onChange called for an invalid reload: %v", f.changes.all())
			}
			if !strings.Contains(f.log.String(), "keeping the current configuration") {
				t.Errorf("failure not logged:\n%s", f.log.String())
			}
		})
	}
}

func TestReloadRestartKeysNotApplied(t *testing.T) {
	f := newFixture(t, "http:\n  addr: 127.0.0.1:9000\nlog:\n  level: info\n")
	writeAtomic(t, f.path, "http:\n  addr: 127.0.0.1:9999\nlog:\n  level: debug\n")
	applied, restart, err := f.live.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, []string{"log.level"}) || !slices.Equal(restart, []string{"http.addr"}) {
		t.Errorf("applied, restart = %v, %v; want [log.level], [http.addr]", applied, restart)
	}
	c := f.live.Load()
	if c.HTTP.Addr != "127.0.0.1:9000" || c.Log.Level != "debug" {
		t.Errorf("http.addr, log.level = %s, %s; want the old address and the new level", c.HTTP.Addr, c.Log.Level)
	}
	if !strings.Contains(f.log.String(), "requires a restart") || !strings.Contains(f.log.String(), "http.addr") {
		t.Errorf("restart not logged:\n%s", f.log.String())
	}

	// Only a restart-requiring change: nothing applied, nobody told.
	writeAtomic(t, f.path, "http:\n  addr: 127.0.0.1:9998\nlog:\n  level: debug\n")
	if applied, restart, err := f.live.Reload(); err != nil || len(applied) != 0 || !slices.Equal(restart, []string{"http.addr"}) {
		t.Errorf("Reload = %v, %v, %v; want nothing applied, http.addr pending", applied, restart, err)
	}
	if n := len(f.changes.all()); n != 1 {
		t.Errorf("onChange called %d times, want once (for log.level)", n)
	}
}

func TestWatchRereadsRotatedSecrets(t *testing.T) {
	dir := t.TempDir()
	keys, dsn := filepath.Join(dir, "identity-keys"), filepath.Join(dir, "postgres-dsn")
	oldKey, newKey := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	writeAtomic(t, keys, oldKey+"\n")
	writeAtomic(t, dsn, "postgres://old\n")
	f := newFixture(t, "gateway:\n  identity_keys_file: "+keys+"\n", "EJAZZ_POSTGRES_DSN_FILE="+dsn)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.live.Watch(ctx, 10*time.Millisecond)

	// Rotation step 1 changes only the secret files, not the config file.
	writeAtomic(t, dsn, "postgres://new\n")
	writeAtomic(t, keys, newKey+"\n"+oldKey+"\n")
	// Both files are re-read; neither secret is reloadable, so both are
	// reported as needing a restart and keep their running values.
	waitFor(t, "postgres.dsn and gateway.identity_keys reported as needing a restart", func() bool {
		return strings.Contains(f.log.String(), "postgres.dsn") && strings.Contains(f.log.String(), "gateway.identity_keys")
	})
	if got := f.live.Load().Postgres.DSN; got != "postgres://old" {
		t.Errorf("postgres.dsn = %q, want the old DSN until a restart", got)
	}
	if got := f.live.Load().Gateway.IdentityKeys; !slices.Equal(got, []string{oldKey}) {
		t.Errorf("gateway.identity_keys changed without a restart")
	}
	if strings.Contains(f.log.String(), "postgres://new") || strings.Contains(f.log.String(), newKey) {
		t.Errorf("log leaks a secret:\n%s", f.log.String())
	}
}

func TestApply(t *testing.T) {
	cur := ptr(Defaults())
	next := ptr(Defaults())
	next.Features = map[string]bool{"beta": true}
	next.RateLimit.Expensive = map[string]Limit{"sign_in": {Rate: 1, Burst: 2}}
	next.Feed.FanoutThreshold = 5
	next.Feed.Shards = 8
	next.Temporal.Address = "temporal.internal:7233"
	merged, applied, restart := Apply(cur, next)
	wantApplied := []string{"features.beta", "feed.fanout_threshold", "ratelimit.expensive.create_post.burst",
		"ratelimit.expensive.create_post.rate", "ratelimit.expensive.create_upload.burst", "ratelimit.expensive.create_upload.rate",
		"ratelimit.expensive.sign_in.burst", "ratelimit.expensive.sign_in.rate", "ratelimit.expensive.sign_up.burst",
		"ratelimit.expensive.sign_up.rate"}
	if !slices.Equal(applied, wantApplied) || !slices.Equal(restart, []string{"feed.shards", "temporal.address"}) {
		t.Errorf("applied = %v\nrestart = %v", applied, restart)
	}
	if !merged.Feature("beta") || merged.Feed.FanoutThreshold != 5 || len(merged.RateLimit.Expensive) != 1 {
		t.Errorf("reloadable values not taken over: %+v %+v", merged.Features, merged.Feed)
	}
	if merged.Feed.Shards != 2 || merged.Temporal.Address != cur.Temporal.Address {
		t.Errorf("restart values taken over: shards %d, temporal %s", merged.Feed.Shards, merged.Temporal.Address)
	}
	if cur.Feed.FanoutThreshold != Defaults().Feed.FanoutThreshold || cur.Feature("beta") {
		t.Error("Apply modified its argument")
	}
}

func TestReloadableEntriesAreFields(t *testing.T) {
	c := Defaults()
	for _, key := range Reloadable {
		if _, ok := field(&c, key); !ok {
			t.Errorf("Reloadable entry %q is not a field of Config", key)
		}
	}
}

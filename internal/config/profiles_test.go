package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// hexSecrets are the secrets validated as 32-byte hex keys.
var hexSecrets = map[string]bool{"auth.oidc_key": true, "notifications.unsubscribe_key": true,
	"media.url_key": true, "gateway.identity_keys": true}

// TestEnvironmentFiles loads and validates every config/<env>.yaml, with
// each `_file` secret it names replaced by a fake file through its
// EJAZZ_*_FILE variable, so the files cannot rot.
func TestEnvironmentFiles(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod"} {
		t.Run(env, func(t *testing.T) {
			path := filepath.Join("..", "..", "config", env+".yaml")
			raw := koanf.New(".")
			if err := raw.Load(file.Provider(path), yaml.Parser()); err != nil {
				t.Fatal(err)
			}
			environ := []string{"EJAZZ_CONFIG=" + path}
			want := map[string]string{}
			dir := t.TempDir()
			for _, key := range raw.Keys() {
				if IsSecret(key) && raw.String(key) != "" {
					t.Errorf("%s holds the secret %s inline; use %s_file", path, key, key)
				}
				target, ok := strings.CutSuffix(key, "_file")
				if !ok {
					continue
				}
				if p := raw.String(key); !strings.HasPrefix(p, "/run/secrets/") {
					t.Errorf("%s: %s = %q, want a path under /run/secrets/", path, key, p)
				}
				content := "fake-" + target
				if hexSecrets[target] {
					content = strings.Repeat("ab", 32)
				}
				fake := filepath.Join(dir, target)
				if err := os.WriteFile(fake, []byte(content+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				environ = append(environ, EnvPrefix+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))+"="+fake)
				want[target] = content
			}
			cfg, err := Load(nil, environ)
			if err != nil {
				t.Fatalf("%s does not load: %v", path, err)
			}
			if cfg.Env != env {
				t.Errorf("env = %q, want %q", cfg.Env, env)
			}
			flat := flatten(cfg, false)
			for target, content := range want {
				got := flat[target]
				if l, ok := got.([]string); ok {
					got = strings.Join(l, ",")
				}
				if got != content {
					t.Errorf("%s = %v, want the secret file's content %q", target, got, content)
				}
			}
			if env == "dev" {
				if cfg.Profile != ProfileEmbedded || len(Diff(cfg, ptr(Defaults()))) != 0 {
					t.Errorf("dev.yaml differs from the defaults in %v", Diff(cfg, ptr(Defaults())))
				}
				return
			}
			if cfg.Profile != ProfileScale || cfg.Log.Format != "json" || cfg.Telemetry.Exporter != "otlp" {
				t.Errorf("profile/log.format/telemetry.exporter = %s/%s/%s, want scale/json/otlp",
					cfg.Profile, cfg.Log.Format, cfg.Telemetry.Exporter)
			}
			if err := cfg.RequireScale("postgres.dsn", "cassandra.hosts", "neo4j.uri", "clickhouse.addr", "s3.endpoint",
				"s3.access_key", "s3.secret_key", "smtp.addr", "temporal.address"); err != nil {
				t.Error(err)
			}
			if len(cfg.Gateway.IdentityKeys) == 0 || len(cfg.Gateway.Backends) == 0 {
				t.Errorf("gateway lacks identity keys or backends: %+v", cfg.Gateway)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

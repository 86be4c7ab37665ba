package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "dsn")
	if err := os.WriteFile(secret, []byte("postgres://from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgFile, []byte("http:\n  addr: 127.0.0.1:9000\nlog:\n  level: debug\ncassandra:\n  hosts: [a:1, b:2]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", cfgFile, "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(fs, []string{
		"EJAZZ_HTTP_ADDR=127.0.0.1:9100",    // env beats file
		"EJAZZ_LOG_LEVEL=error",             // flag beats env
		"EJAZZ_POSTGRES_DSN_FILE=" + secret, // secret from a file
		"EJAZZ_S3_ACCESS_KEY=ak",            // key with an underscore
		"EJAZZ_MAILPIT_URL=http://x",        // not config: ignored
		"EJAZZ_CASSANDRA_HOSTS=c:3, d:4",    // list
		"EJAZZ_AUTH_OIDC_POST_LOGOUT_REDIRECT_URIS=https://a.example/out, https://b.example/out",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:9100" {
		t.Errorf("http.addr = %q, want env value", cfg.HTTP.Addr)
	}
	if cfg.Log.Level != "warn" {
		t.Errorf("log.level = %q, want flag value", cfg.Log.Level)
	}
	if cfg.Postgres.DSN != "postgres://from-file" {
		t.Errorf("postgres.dsn = %q, want the file's content", cfg.Postgres.DSN)
	}
	if cfg.S3.AccessKey != "ak" {
		t.Errorf("s3.access_key = %q", cfg.S3.AccessKey)
	}
	if strings.Join(cfg.Cassandra.Hosts, ",") != "c:3,d:4" {
		t.Errorf("cassandra.hosts = %v", cfg.Cassandra.Hosts)
	}
	if strings.Join(cfg.Auth.OIDCPostLogoutRedirectURIs, ",") != "https://a.example/out,https://b.example/out" {
		t.Errorf("auth.oidc_post_logout_redirect_uris = %v", cfg.Auth.OIDCPostLogoutRedirectURIs)
	}
	if cfg.Profile != ProfileEmbedded || cfg.Temporal.Namespace != "default" {
		t.Errorf("defaults lost: %+v", cfg)
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	if err := os.WriteFile(unknown, []byte("http:\n  adr: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		environ []string
		want    string
	}{
		{"unknown file key", []string{"EJAZZ_CONFIG=" + unknown}, `unknown key "http.adr"`},
		{"missing explicit file", []string{"EJAZZ_CONFIG=" + filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"bad profile", []string{"EJAZZ_PROFILE=huge"}, "profile"},
		{"bad address", []string{"EJAZZ_HTTP_ADDR=nope"}, "http.addr"},
		{"bad neo4j uri", []string{"EJAZZ_NEO4J_URI=::"}, "neo4j.uri"},
		{"relative post-logout URI", []string{"EJAZZ_AUTH_OIDC_POST_LOGOUT_REDIRECT_URIS=signed-out"}, "auth.oidc_post_logout_redirect_uris"},
		{"missing secret file", []string{"EJAZZ_S3_SECRET_KEY_FILE=" + filepath.Join(dir, "none")}, "s3.secret_key_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(nil, tc.environ)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestRequireScaleNamesKeys(t *testing.T) {
	c := Defaults()
	err := c.RequireScale("postgres.dsn", "temporal.address")
	if err == nil || !strings.Contains(err.Error(), "postgres.dsn") || !strings.Contains(err.Error(), "EJAZZ_POSTGRES_DSN") || strings.Contains(err.Error(), "temporal.address") {
		t.Fatalf("RequireScale = %v", err)
	}
}

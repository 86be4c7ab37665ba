package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrintRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "s3-secret")
	if err := os.WriteFile(secretFile, []byte("very-secret-s3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(nil, []string{
		"EJAZZ_POSTGRES_DSN=postgres://ejazz:hunter2@127.0.0.1:5432/ejazz",
		"EJAZZ_S3_SECRET_KEY_FILE=" + secretFile,
		"EJAZZ_AUTH_OIDC_KEY=" + strings.Repeat("ab", 32),
		"EJAZZ_FEED_FANOUT_THRESHOLD=1234",
		"EJAZZ_GATEWAY_IDENTITY_KEYS=" + strings.Repeat("cd", 32) + "," + strings.Repeat("ef", 32),
		"EJAZZ_FEATURES_API_KEY_LOGIN=true",
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cfg.Print(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, secret := range []string{"hunter2", "very-secret-s3", strings.Repeat("ab", 32), strings.Repeat("cd", 32), strings.Repeat("ef", 32)} {
		if strings.Contains(s, secret) {
			t.Errorf("printed config leaks %q:\n%s", secret, s)
		}
	}
	for _, want := range []string{`postgres.dsn: "<redacted>"`, `s3.secret_key: "<redacted>"`, `auth.oidc_key: "<redacted>"`,
		"feed.fanout_threshold: 1234", `s3.secret_key_file: "` + secretFile + `"`, `media.url_key: ""`,
		`gateway.identity_keys: "<redacted>"`, "features.api_key_login: true", "gateway.backends: {}",
		"auth.key_rotation: 24h0m0s", "ratelimit.expensive.sign_in.rate: 0.2", `telemetry.exporter: "none"`} {
		if !strings.Contains(s, want+"\n") {
			t.Errorf("printed config lacks %q:\n%s", want, s)
		}
	}
}

func TestIsSecret(t *testing.T) {
	for key, want := range map[string]bool{
		"postgres.dsn": true, "s3.secret_key": true, "s3.access_key": true, "gateway.identity_keys": true,
		"auth.oidc_key": true, "smtp.password": true, "postgres.dsn_file": false, "gateway.identity_keys_file": false,
		"auth.key_rotation": false, "telemetry.insecure": false, "gateway.dns_refresh": false,
	} {
		if got := IsSecret(key); got != want {
			t.Errorf("IsSecret(%s) = %v, want %v", key, got, want)
		}
	}
}

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
	badLimit := filepath.Join(dir, "l.yaml")
	if err := os.WriteFile(badLimit, []byte("ratelimit:\n  expensive:\n    sign_in: {rte: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFeature := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(badFeature, []byte("features:\n  New-UI: true\n"), 0o600); err != nil {
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
		{"bad backend", []string{"EJAZZ_GATEWAY_BACKENDS_FEED=feed.internal:8080"}, "gateway.backends.feed"},
		{"bad dns backend", []string{"EJAZZ_GATEWAY_BACKENDS_FEED=dns:///feed.internal"}, "gateway.backends.feed"},
		{"short identity key", []string{"EJAZZ_GATEWAY_IDENTITY_KEYS=" + strings.Repeat("ab", 32) + ",abcd"}, "gateway.identity_keys"},
		{"tiny body limit", []string{"EJAZZ_GATEWAY_MAX_BODY_BYTES=10"}, "gateway.max_body_bytes"},
		{"zero timeout", []string{"EJAZZ_GATEWAY_TIMEOUT=0s"}, "gateway.timeout"},
		{"zero rate", []string{"EJAZZ_RATELIMIT_IP_RATE=0"}, "ratelimit.ip.rate"},
		{"zero expensive burst", []string{"EJAZZ_RATELIMIT_EXPENSIVE_SIGN_UP_BURST=0"}, "ratelimit.expensive.sign_up.burst"},
		{"bad proxy", []string{"EJAZZ_RATELIMIT_TRUSTED_PROXIES=10.0.0.0/8,lb"}, `"lb"`},
		{"bad exporter", []string{"EJAZZ_TELEMETRY_EXPORTER=jaeger"}, "telemetry.exporter"},
		{"bad sample ratio", []string{"EJAZZ_TELEMETRY_SAMPLE_RATIO=1.5"}, "telemetry.sample_ratio"},
		{"bad endpoint", []string{"EJAZZ_TELEMETRY_ENDPOINT=collector"}, "telemetry.endpoint"},
		{"not a bool flag", []string{"EJAZZ_FEATURES_BETA=maybe"}, "features"},
		{"unknown expensive field", []string{"EJAZZ_CONFIG=" + badLimit}, `unknown key "ratelimit.expensive.sign_in.rte"`},
		{"bad feature name", []string{"EJAZZ_CONFIG=" + badFeature}, `"New-UI" is not a snake_case feature name`},
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

func TestLoadEdgeSections(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	k1, k2 := strings.Repeat("01", 32), strings.Repeat("02", 32)
	if err := os.WriteFile(keys, []byte(k1+"\n"+k2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c.yaml")
	yaml := `gateway:
  backends:
    feed: ["http://feed-0.internal:8080", "http://feed-1.internal:8080"]
    ejazz.auth.v1.AuthService: ["dns:///auth.internal:8080"]
  timeout: 5s
ratelimit:
  user: {rate: 1.5}
  expensive:
    sign_in: {burst: 9}
    follow: {rate: 3, burst: 6}
features:
  beta: true
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(nil, []string{"EJAZZ_CONFIG=" + file,
		"EJAZZ_GATEWAY_IDENTITY_KEYS_FILE=" + keys,
		"EJAZZ_GATEWAY_BACKENDS_MEDIA=http://media.internal:8080, dns:///media.internal:8080",
		"EJAZZ_RATELIMIT_EXPENSIVE_CREATE_POST_RATE=0.5",
		"EJAZZ_RATELIMIT_TRUSTED_PROXIES=10.0.0.0/8, 192.168.1.1",
		"EJAZZ_FEATURES_NEW_COMPOSER=true",
		"EJAZZ_TELEMETRY_EXPORTER=otlp",
		"EJAZZ_TELEMETRY_SAMPLE_RATIO=0.25",
	})
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Gateway
	if len(g.Backends["feed"]) != 2 || g.Backends["ejazz.auth.v1.AuthService"][0] != "dns:///auth.internal:8080" ||
		strings.Join(g.Backends["media"], ",") != "http://media.internal:8080,dns:///media.internal:8080" {
		t.Errorf("gateway.backends = %v", g.Backends)
	}
	if strings.Join(g.IdentityKeys, ",") != k1+","+k2 {
		t.Errorf("gateway.identity_keys = %v, want the file's two lines", g.IdentityKeys)
	}
	if g.Timeout.String() != "5s" || g.MaxBodyBytes != 8<<20 || g.HealthInterval.String() != "2s" || g.DNSRefresh.String() != "30s" {
		t.Errorf("gateway durations/limits = %+v", g)
	}
	r := cfg.RateLimit
	if !r.Enabled || r.User != (Limit{Rate: 1.5, Burst: 40}) || r.IP != (Limit{Rate: 50, Burst: 100}) {
		t.Errorf("ratelimit user/ip = %+v %+v (file value merged with the default burst)", r.User, r.IP)
	}
	wantExpensive := map[string]Limit{"sign_in": {0.2, 9}, "sign_up": {0.05, 3}, "create_post": {0.5, 10},
		"create_upload": {1, 5}, "follow": {3, 6}}
	if len(r.Expensive) != len(wantExpensive) {
		t.Errorf("ratelimit.expensive = %v, want %v", r.Expensive, wantExpensive)
	}
	for k, v := range wantExpensive {
		if r.Expensive[k] != v {
			t.Errorf("ratelimit.expensive.%s = %+v, want %+v", k, r.Expensive[k], v)
		}
	}
	if l, ok := r.ForProcedure("/ejazz.auth.v1.AuthService/SignIn"); !ok || l.Burst != 9 {
		t.Errorf("ForProcedure(SignIn) = %+v, %v", l, ok)
	}
	if strings.Join(r.TrustedProxies, ",") != "10.0.0.0/8,192.168.1.1" {
		t.Errorf("ratelimit.trusted_proxies = %v", r.TrustedProxies)
	}
	if !cfg.Feature("beta") || !cfg.Feature("new_composer") || cfg.Feature("missing") {
		t.Errorf("features = %v", cfg.Features)
	}
	if cfg.Telemetry != (Telemetry{Exporter: "otlp", SampleRatio: 0.25}) {
		t.Errorf("telemetry = %+v", cfg.Telemetry)
	}
}

func TestEnvKey(t *testing.T) {
	for name, want := range map[string]string{
		"EJAZZ_DATA_DIR":                          "data_dir",
		"EJAZZ_S3_ACCESS_KEY":                     "s3.access_key",
		"EJAZZ_RATELIMIT_USER_RATE":               "ratelimit.user.rate",
		"EJAZZ_GATEWAY_IDENTITY_KEYS_FILE":        "gateway.identity_keys_file",
		"EJAZZ_RATELIMIT_EXPENSIVE_SIGN_IN_BURST": "ratelimit.expensive.sign_in.burst",
		"EJAZZ_RATELIMIT_EXPENSIVE_SIGN_IN":       "",
		"EJAZZ_FEATURES_NEW_COMPOSER":             "features.new_composer",
		"EJAZZ_GATEWAY_BACKENDS_FEED":             "gateway.backends.feed",
		"EJAZZ_MAILPIT_URL":                       "",
	} {
		if got := envKey(name); got != want {
			t.Errorf("envKey(%s) = %q, want %q", name, got, want)
		}
	}
}

// TestEnvNamesUnique guards envKey's reverse index: two keys spelled alike
// as variables would make one unreachable.
func TestEnvNamesUnique(t *testing.T) {
	if len(cfgSchema.env) != len(cfgSchema.leaves) {
		t.Fatalf("%d leaves but %d distinct variable names", len(cfgSchema.leaves), len(cfgSchema.env))
	}
	for p := range cfgSchema.maps {
		prefix := strings.ReplaceAll(p, ".", "_") + "_"
		for env, key := range cfgSchema.env {
			if strings.HasPrefix(env, prefix) {
				t.Errorf("variable of %s lies under the map %s", key, p)
			}
		}
	}
}

func TestProcedureKey(t *testing.T) {
	for in, want := range map[string]string{
		"/ejazz.auth.v1.AuthService/SignIn":         "sign_in",
		"/ejazz.media.v1.MediaService/CreateUpload": "create_upload",
		"Follow": "follow",
	} {
		if got := ProcedureKey(in); got != want {
			t.Errorf("ProcedureKey(%s) = %q, want %q", in, got, want)
		}
	}
}

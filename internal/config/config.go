// Package config holds Ejazz's one typed configuration and loads it in
// layers: built-in defaults < YAML file (per environment) < EJAZZ_* environment
// variables < command-line flags. Secrets may be given as files (any key with a
// `_file` twin, e.g. postgres.dsn_file). Unknown keys in the file and invalid
// values are rejected with an error naming the key. Live holds a running
// process's configuration and reloads its Reloadable keys on SIGHUP and on
// file changes (see docs/configuration.md).
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// Profiles.
const (
	// ProfileEmbedded runs every store on SQLite/local files and Temporal in-process.
	ProfileEmbedded = "embedded"
	// ProfileScale runs on the real engines: PostgreSQL, Neo4j, Cassandra, ClickHouse, S3, SMTP and a Temporal cluster.
	ProfileScale = "scale"
)

// EnvPrefix is the prefix of every environment variable Ejazz reads.
const EnvPrefix = "EJAZZ_"

// Config is the whole configuration of an Ejazz process.
type Config struct {
	// Profile is "embedded" (default) or "scale".
	Profile string `koanf:"profile"`
	// Env names the environment (dev, staging, prod); it selects the default config file.
	Env string `koanf:"env"`
	// DataDir holds embedded-profile data (SQLite files, Temporal's database, media files).
	DataDir string `koanf:"data_dir"`

	HTTP       HTTP       `koanf:"http"`
	Log        Log        `koanf:"log"`
	Temporal   Temporal   `koanf:"temporal"`
	Postgres   Postgres   `koanf:"postgres"`
	Cassandra  Cassandra  `koanf:"cassandra"`
	Neo4j      Neo4j      `koanf:"neo4j"`
	ClickHouse ClickHouse `koanf:"clickhouse"`
	S3         S3         `koanf:"s3"`
	SMTP       SMTP       `koanf:"smtp"`
	Auth       Auth       `koanf:"auth"`
	Feed       Feed       `koanf:"feed"`
	Media      Media      `koanf:"media"`
	Analytics  Analytics  `koanf:"analytics"`

	Notifications Notifications `koanf:"notifications"`

	Gateway   Gateway   `koanf:"gateway"`
	RateLimit RateLimit `koanf:"ratelimit"`
	Telemetry Telemetry `koanf:"telemetry"`

	// Features are free-form feature flags (name → on); a name that is not
	// set is off. Reloadable.
	Features map[string]bool `koanf:"features"`

	// file is the config file Load read (or would have read: the default
	// config/<env>.yaml that did not exist yet); Watch polls it.
	file string
	// reload loads the configuration again the way Load made this one
	// (same flags and environment); nil when it was not made by Load.
	reload func() (*Config, error)
}

// Reloader returns the function that loads this configuration again from
// the same flags and environment (for NewLive), or nil when c was not made
// by Load.
func (c *Config) Reloader() func() (*Config, error) { return c.reload }

// Gateway configures the API gateway in front of the services.
type Gateway struct {
	// Backends maps a service's short name ("feed") or full name
	// ("ejazz.feed.v1.FeedService") to its instances: base URLs
	// ("http://feed-0.internal:8080") or "dns:///host:port" targets whose
	// A/AAAA records are re-resolved every DNSRefresh. A service without an
	// entry is served in-process.
	Backends map[string][]string `koanf:"backends"`
	// IdentityKeys are hex HMAC keys (64 hex characters, 32 bytes each) that
	// sign the identity the gateway forwards to backends: the first signs,
	// every key verifies (rotation: add the new key second, roll out, then
	// move it first, then drop the old one). Reloadable.
	IdentityKeys     []string `koanf:"identity_keys"`
	IdentityKeysFile string   `koanf:"identity_keys_file"`
	// MaxBodyBytes bounds a request body the gateway accepts.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// Timeout bounds one proxied call (unary; streams are bounded by their
	// own deadlines).
	Timeout time.Duration `koanf:"timeout"`
	// HealthInterval is how often the gateway checks each backend instance.
	HealthInterval time.Duration `koanf:"health_interval"`
	// DNSRefresh is how often "dns:///" backends are re-resolved.
	DNSRefresh time.Duration `koanf:"dns_refresh"`
}

// Limit is one token bucket: Burst calls at once, refilled at Rate calls per
// second.
type Limit struct {
	Rate  float64 `koanf:"rate"`
	Burst int     `koanf:"burst"`
}

// RateLimit configures the gateway's rate limits. The whole section is
// reloadable.
type RateLimit struct {
	// Enabled turns every limit on or off.
	Enabled bool `koanf:"enabled"`
	// User limits one signed-in user's calls; IP limits one client address's.
	User Limit `koanf:"user"`
	IP   Limit `koanf:"ip"`
	// Expensive adds a per-user budget to costly procedures, keyed by the
	// procedure's method name in snake_case ("SignIn" → "sign_in"; see
	// ProcedureKey). Entries merge with the defaults one by one.
	Expensive map[string]Limit `koanf:"expensive"`
	// TrustedProxies are the CIDRs (or single addresses) of proxies whose
	// X-Forwarded-For is believed when finding the client's address.
	TrustedProxies []string `koanf:"trusted_proxies"`
}

// ForProcedure returns the expensive-procedure limit of a Connect procedure
// ("/ejazz.auth.v1.AuthService/SignIn" looks up "sign_in").
func (r RateLimit) ForProcedure(procedure string) (Limit, bool) {
	l, ok := r.Expensive[ProcedureKey(procedure)]
	return l, ok
}

// ProcedureKey is the key of a Connect procedure in ratelimit.expensive: its
// method name in snake_case ("/ejazz.auth.v1.AuthService/SignIn" → "sign_in").
func ProcedureKey(procedure string) string {
	method := procedure[strings.LastIndex(procedure, "/")+1:]
	var b strings.Builder
	for i, r := range method {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Telemetry configures trace export (see package telemetry).
type Telemetry struct {
	// Exporter is "none" (default), "otlp" or "stdout".
	Exporter string `koanf:"exporter"`
	// Endpoint is the OTLP/gRPC collector's host:port (otlp only; empty uses
	// OTEL_EXPORTER_OTLP_ENDPOINT or localhost:4317).
	Endpoint string `koanf:"endpoint"`
	// Insecure sends OTLP over plaintext gRPC.
	Insecure bool `koanf:"insecure"`
	// SampleRatio is the fraction of new root traces sampled (0 < r <= 1).
	SampleRatio float64 `koanf:"sample_ratio"`
}

// Feature reports whether the feature flag name is on.
func (c *Config) Feature(name string) bool { return c.Features[name] }

// File is the config file Load read, or the default config/<env>.yaml it
// looked for; "" when the configuration came from defaults, environment and
// flags only.
func (c *Config) File() string { return c.file }

// Notifications configures notification batching, live streams and email
// digests.
type Notifications struct {
	// Window is how long a recipient's batching workflow collects events
	// after a delivery (the first event of a quiet period goes out at once).
	Window time.Duration `koanf:"window"`
	// MaxEvents is how many events a batching workflow run takes before it
	// continues as new (bounds its history).
	MaxEvents int `koanf:"max_events"`
	// GroupWindow is how long the dispatcher gathers the events of
	// concurrent requests into one signal per recipient (group commit).
	GroupWindow time.Duration `koanf:"group_window"`
	// Shards is the number of the dispatcher's grouping loops.
	Shards int `koanf:"shards"`
	// KeepAlive is how often an idle notification stream gets an
	// unread_count-only message.
	KeepAlive time.Duration `koanf:"keep_alive"`
	// MaxStreams bounds one user's open streams per API process.
	MaxStreams int `koanf:"max_streams"`
	// DigestHour is the hour (UTC) daily and weekly digests go out;
	// DigestWeekday the weekly digests' day (0 Sunday … 6 Saturday).
	DigestHour    int `koanf:"digest_hour"`
	DigestWeekday int `koanf:"digest_weekday"`
	// UnsubscribeKey is the hex HMAC key (64 hex characters) signing the
	// unsubscribe links of mails; empty uses a key kept in the preference
	// store, shared by every process.
	UnsubscribeKey     string `koanf:"unsubscribe_key"`
	UnsubscribeKeyFile string `koanf:"unsubscribe_key_file"`
}

// Analytics configures event ingestion (analytics.Ingester).
type Analytics struct {
	// SpoolDir keeps batches the analytics store refused until they are
	// replayed; empty means <data_dir>/analytics-spool.
	SpoolDir string `koanf:"spool_dir"`
	// QueueSize bounds the events waiting in memory (Publish waits beyond).
	QueueSize int `koanf:"queue_size"`
	// BatchSize and FlushInterval bound one insert by size and age.
	BatchSize     int           `koanf:"batch_size"`
	FlushInterval time.Duration `koanf:"flush_interval"`
}

// Media configures uploads and the media pipeline.
type Media struct {
	// MaxImageBytes and MaxVideoBytes bound what CreateUpload accepts.
	MaxImageBytes int64 `koanf:"max_image_bytes"`
	MaxVideoBytes int64 `koanf:"max_video_bytes"`
	// MaxPixels refuses bigger images before decoding them.
	MaxPixels int64 `koanf:"max_pixels"`
	// UploadTTL is how long an upload URL works.
	UploadTTL time.Duration `koanf:"upload_ttl"`
	// PendingTTL is when an upload that was never completed is removed.
	PendingTTL time.Duration `koanf:"pending_ttl"`
	// URLTTL is how long the variant URLs handed to clients work (when no
	// public base URL is set).
	URLTTL time.Duration `koanf:"url_ttl"`
	// PublicBaseURL, when set, serves variants as <base>/<key> (a CDN or a
	// public bucket) instead of presigned URLs; keys are immutable.
	PublicBaseURL string `koanf:"public_base_url"`
	// URLKey is the hex HMAC key that signs the embedded blob store's URLs
	// (64 hex characters; random per process when empty).
	URLKey     string `koanf:"url_key"`
	URLKeyFile string `koanf:"url_key_file"`
	// Workers is how many media items one worker process handles at once
	// (bounds memory: a 50-megapixel image needs ~200 MB decoded).
	Workers int `koanf:"workers"`
}

// Feed configures the fan-out.
type Feed struct {
	// FanoutThreshold: authors with more followers are not fanned out; their
	// posts are merged into home timelines at read time (0 fans out everyone).
	FanoutThreshold int `koanf:"fanout_threshold"`
	// Shards is the number of long-running fan-out workflows.
	Shards int `koanf:"shards"`
	// PageSize is how many followers one timeline write covers.
	PageSize int `koanf:"page_size"`
	// GroupWindow is how long the dispatcher gathers the fan-out jobs of
	// concurrent requests into one signal per shard (group commit).
	GroupWindow time.Duration `koanf:"group_window"`
}

// Auth configures access tokens.
type Auth struct {
	// Issuer is the "iss" of access tokens; empty means http.public_url.
	Issuer string `koanf:"issuer"`
	// Audience is the "aud" access tokens must carry.
	Audience string `koanf:"audience"`
	// JWKSURL points at an external issuer's key set (Keycloak, Zitadel, …);
	// empty uses the built-in issuer's keys.
	JWKSURL string `koanf:"jwks_url"`
	// AccessTTL is the access tokens' lifetime.
	AccessTTL time.Duration `koanf:"access_ttl"`
	// KeyRotation is how long one signing key signs before a new one takes over.
	KeyRotation time.Duration `koanf:"key_rotation"`
	// OIDCClientID is the built-in OpenID Provider's registered public client
	// (authorization code + PKCE S256).
	OIDCClientID string `koanf:"oidc_client_id"`
	// OIDCRedirectURIs are that client's allowed redirect URIs.
	OIDCRedirectURIs []string `koanf:"oidc_redirect_uris"`
	// OIDCPostLogoutRedirectURIs are where end_session may send the browser
	// back to (post_logout_redirect_uri); none means the provider's own
	// signed-out page.
	OIDCPostLogoutRedirectURIs []string `koanf:"oidc_post_logout_redirect_uris"`
	// OIDCKey is 64 hex characters (32 bytes) encrypting the provider's opaque
	// values; empty picks a random key per process (single replica only).
	OIDCKey     string `koanf:"oidc_key"`
	OIDCKeyFile string `koanf:"oidc_key_file"`
}

// IssuerURL is the effective token issuer.
func (c *Config) IssuerURL() string {
	if c.Auth.Issuer != "" {
		return c.Auth.Issuer
	}
	return c.HTTP.PublicURL
}

// HTTP configures the public edge.
type HTTP struct {
	// Addr is the listen address of the public port (Connect, gRPC, gRPC-Web, health, metrics).
	Addr string `koanf:"addr"`
	// CORSOrigins lists the browser origins allowed to call the API ("*" allows any).
	CORSOrigins []string `koanf:"cors_origins"`
	// PublicURL is the base URL users reach the platform at (links in mails).
	PublicURL string `koanf:"public_url"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// PprofAddr, when set, serves Go's runtime profiles (/debug/pprof/) on
	// this separate address — keep it on loopback.
	PprofAddr string `koanf:"pprof_addr"`
}

// Log configures slog.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `koanf:"level"`
	// Format is json or text.
	Format string `koanf:"format"`
}

// Temporal configures the Temporal client, and in the embedded profile the in-process server.
type Temporal struct {
	// Address of the frontend (host:port). In the embedded profile, where the in-process server listens.
	Address string `koanf:"address"`
	// Namespace used by every client and worker.
	Namespace string `koanf:"namespace"`
	// UIAddr is where the embedded server's Web UI listens (embedded profile; empty disables it).
	UIAddr string `koanf:"ui_addr"`
}

// Postgres configures the PostgreSQL pool (scale profile).
type Postgres struct {
	DSN     string `koanf:"dsn"`
	DSNFile string `koanf:"dsn_file"`
}

// Cassandra configures the gocql session (scale profile).
type Cassandra struct {
	// Hosts are host:port contact points.
	Hosts    []string `koanf:"hosts"`
	Keyspace string   `koanf:"keyspace"`
	// ReplicationFactor of the keyspace created by `ejazz migrate` (SimpleStrategy).
	ReplicationFactor int    `koanf:"replication_factor"`
	Username          string `koanf:"username"`
	Password          string `koanf:"password"`
	PasswordFile      string `koanf:"password_file"`
}

// Neo4j configures the Bolt driver (scale profile).
type Neo4j struct {
	URI          string `koanf:"uri"`
	Username     string `koanf:"username"`
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
	Database     string `koanf:"database"`
}

// ClickHouse configures the native-protocol connection (scale profile).
type ClickHouse struct {
	Addr         string `koanf:"addr"`
	Database     string `koanf:"database"`
	Username     string `koanf:"username"`
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
}

// S3 configures the media bucket (scale profile).
type S3 struct {
	Endpoint      string `koanf:"endpoint"`
	Region        string `koanf:"region"`
	Bucket        string `koanf:"bucket"`
	AccessKey     string `koanf:"access_key"`
	AccessKeyFile string `koanf:"access_key_file"`
	SecretKey     string `koanf:"secret_key"`
	SecretKeyFile string `koanf:"secret_key_file"`
}

// SMTP configures outgoing mail (scale profile; the embedded profile uses the dev mailbox).
type SMTP struct {
	Addr         string `koanf:"addr"`
	From         string `koanf:"from"`
	Username     string `koanf:"username"`
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
}

// Defaults returns the built-in defaults (the embedded profile on loopback).
func Defaults() Config {
	return Config{
		Profile: ProfileEmbedded,
		Env:     "dev",
		DataDir: ".ejazz",
		HTTP: HTTP{
			Addr:            "127.0.0.1:8080",
			PublicURL:       "http://127.0.0.1:8080",
			CORSOrigins:     []string{"*"},
			ShutdownTimeout: 10 * time.Second,
		},
		Log:      Log{Level: "info", Format: "json"},
		Temporal: Temporal{Address: "127.0.0.1:7233", Namespace: "default", UIAddr: "127.0.0.1:8233"},
		Cassandra: Cassandra{
			Keyspace:          "ejazz",
			ReplicationFactor: 1,
		},
		Neo4j:      Neo4j{Database: "neo4j"},
		ClickHouse: ClickHouse{Database: "ejazz", Username: "default"},
		S3:         S3{Region: "us-east-1", Bucket: "ejazz-media"},
		SMTP:       SMTP{From: "Ejazz <no-reply@ejazz.local>"},
		Auth: Auth{Audience: "ejazz", AccessTTL: 15 * time.Minute, KeyRotation: 24 * time.Hour,
			OIDCClientID: "ejazz-web", OIDCRedirectURIs: []string{"http://127.0.0.1:3000/callback"}},
		Feed: Feed{FanoutThreshold: 10000, Shards: 2, PageSize: 1000, GroupWindow: 5 * time.Millisecond},
		Media: Media{MaxImageBytes: 20 << 20, MaxVideoBytes: 200 << 20, MaxPixels: 50_000_000,
			UploadTTL: 15 * time.Minute, PendingTTL: 24 * time.Hour, URLTTL: time.Hour, Workers: 2},
		Notifications: Notifications{Window: 5 * time.Second, MaxEvents: 1000, GroupWindow: 5 * time.Millisecond, Shards: 4,
			KeepAlive: 15 * time.Second, MaxStreams: 5, DigestHour: 8, DigestWeekday: 1},
		Analytics: Analytics{QueueSize: 1 << 17, BatchSize: 50_000, FlushInterval: time.Second},
		Gateway: Gateway{Backends: map[string][]string{}, MaxBodyBytes: 8 << 20, Timeout: 30 * time.Second,
			HealthInterval: 2 * time.Second, DNSRefresh: 30 * time.Second},
		RateLimit: RateLimit{Enabled: true, User: Limit{Rate: 20, Burst: 40}, IP: Limit{Rate: 50, Burst: 100},
			Expensive: map[string]Limit{
				"sign_in":       {Rate: 0.2, Burst: 5},
				"sign_up":       {Rate: 0.05, Burst: 3},
				"create_post":   {Rate: 2, Burst: 10},
				"create_upload": {Rate: 1, Burst: 5},
			}},
		Telemetry: Telemetry{Exporter: "none", SampleRatio: 1},
		Features:  map[string]bool{},
	}
}

// Flag names bound to config keys. Commands register the flags they accept;
// Load maps the ones that were set onto the config.
var flagKeys = map[string]string{
	"profile":            "profile",
	"env":                "env",
	"data-dir":           "data_dir",
	"http-addr":          "http.addr",
	"log-level":          "log.level",
	"log-format":         "log.format",
	"temporal-address":   "temporal.address",
	"temporal-namespace": "temporal.namespace",
	"temporal-ui-addr":   "temporal.ui_addr",
}

// RegisterFlags adds the config flags to fs. The --config flag names a YAML file.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String("config", "", "YAML config file (default: config/<env>.yaml when it exists)")
	fs.String("profile", d.Profile, "profile: embedded or scale (EJAZZ_PROFILE)")
	fs.String("env", d.Env, "environment name: dev, staging, prod (EJAZZ_ENV)")
	fs.String("data-dir", d.DataDir, "data directory for the embedded profile (EJAZZ_DATA_DIR)")
	fs.String("http-addr", d.HTTP.Addr, "public listen address (EJAZZ_HTTP_ADDR)")
	fs.String("log-level", d.Log.Level, "log level: debug, info, warn, error (EJAZZ_LOG_LEVEL)")
	fs.String("log-format", d.Log.Format, "log format: json or text (EJAZZ_LOG_FORMAT)")
	fs.String("temporal-address", d.Temporal.Address, "Temporal frontend host:port (EJAZZ_TEMPORAL_ADDRESS)")
	fs.String("temporal-namespace", d.Temporal.Namespace, "Temporal namespace (EJAZZ_TEMPORAL_NAMESPACE)")
	fs.String("temporal-ui-addr", d.Temporal.UIAddr, "embedded Temporal Web UI address, empty to disable (EJAZZ_TEMPORAL_UI_ADDR)")
}

// Load builds the configuration from defaults, the config file, the
// environment (environ, e.g. os.Environ()) and the flags that were set in fs
// (fs may be nil). Every call reads the file and the `_file` secrets afresh,
// so a reload calls Load again with the same fs and environ.
func Load(fs *pflag.FlagSet, environ []string) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(toMap(Defaults()), "."), nil); err != nil {
		return nil, fmt.Errorf("config: defaults: %w", err)
	}

	// File: --config, EJAZZ_CONFIG, or config/<env>.yaml when present.
	path, explicit := configPath(fs, environ)
	if path != "" {
		if _, err := os.Stat(path); err == nil || explicit {
			fk := koanf.New(".")
			if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
				return nil, fmt.Errorf("config: file %s: %w", path, err)
			}
			for _, key := range fk.Keys() {
				if !cfgSchema.valid(key) {
					return nil, fmt.Errorf("config: file %s: unknown key %q", path, key)
				}
			}
			if err := k.Merge(fk); err != nil {
				return nil, fmt.Errorf("config: file %s: %w", path, err)
			}
		}
	}

	// Environment: EJAZZ_SECTION_KEY → section.key; EJAZZ_KEY → key.
	envMap := map[string]any{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvPrefix+"CONFIG" {
			continue
		}
		key := envKey(name)
		if key == "" {
			continue // EJAZZ_* variables of tools and tests (e.g. EJAZZ_MAILPIT_URL) are not config.
		}
		if isList(key) {
			envMap[key] = splitList(value)
		} else {
			envMap[key] = value
		}
	}
	if err := k.Load(confmap.Provider(envMap, "."), nil); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}

	// Flags that were set explicitly.
	if fs != nil {
		flagMap := map[string]any{}
		fs.Visit(func(f *pflag.Flag) {
			if key, ok := flagKeys[f.Name]; ok {
				flagMap[key] = f.Value.String()
			}
		})
		if err := k.Load(confmap.Provider(flagMap, "."), nil); err != nil {
			return nil, fmt.Errorf("config: flags: %w", err)
		}
	}

	// Secrets from files (only the `_file` twins of Config, never a map
	// entry that happens to end in _file).
	for _, key := range k.Keys() {
		target, ok := strings.CutSuffix(key, "_file")
		if !ok || cfgSchema.leaves[key] == nil || cfgSchema.leaves[target] == nil {
			continue
		}
		p := k.String(key)
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", key, err)
		}
		var v any = strings.TrimSpace(string(b))
		if isList(target) {
			v = splitList(string(b)) // one item per line (or comma-separated)
		}
		if err := k.Set(target, v); err != nil {
			return nil, fmt.Errorf("config: %s: %w", key, err)
		}
	}

	cfg := Config{file: path, reload: func() (*Config, error) { return Load(fs, environ) }}
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func configPath(fs *pflag.FlagSet, environ []string) (string, bool) {
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
			return f.Value.String(), true
		}
	}
	env := "dev"
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, EnvPrefix+"CONFIG="); ok && v != "" {
			return v, true
		}
		if v, ok := strings.CutPrefix(kv, EnvPrefix+"ENV="); ok && v != "" {
			env = v
		}
	}
	if fs != nil {
		if f := fs.Lookup("env"); f != nil && f.Changed {
			env = f.Value.String()
		}
	}
	return filepath.Join("config", env+".yaml"), false
}

// Validate checks every value and names the offending key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: "+format, append([]any{key}, args...)...))
	}
	if c.Profile != ProfileEmbedded && c.Profile != ProfileScale {
		bad("profile", "must be %q or %q, got %q", ProfileEmbedded, ProfileScale, c.Profile)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if c.Feed.FanoutThreshold < 0 {
		bad("feed.fanout_threshold", "must not be negative, got %d", c.Feed.FanoutThreshold)
	}
	if c.Feed.PageSize < 1 || c.Feed.PageSize > 5000 {
		bad("feed.page_size", "must be between 1 and 5000, got %d", c.Feed.PageSize)
	}
	if c.Feed.GroupWindow < 0 || c.Feed.GroupWindow > time.Second {
		bad("feed.group_window", "must be between 0 and 1s, got %v", c.Feed.GroupWindow)
	}
	if c.Feed.Shards < 1 || c.Feed.Shards > 64 {
		bad("feed.shards", "must be between 1 and 64, got %d", c.Feed.Shards)
	}
	if c.Media.MaxImageBytes < 1 || c.Media.MaxVideoBytes < 1 || c.Media.MaxPixels < 1 {
		bad("media", "max_image_bytes, max_video_bytes and max_pixels must be positive")
	}
	if c.Media.UploadTTL < time.Minute || c.Media.UploadTTL > 7*24*time.Hour {
		bad("media.upload_ttl", "must be between 1m and 168h, got %v", c.Media.UploadTTL)
	}
	if c.Media.PendingTTL < c.Media.UploadTTL {
		bad("media.pending_ttl", "must be at least media.upload_ttl")
	}
	if c.Media.URLTTL < time.Minute || c.Media.URLTTL > 7*24*time.Hour {
		bad("media.url_ttl", "must be between 1m and 168h, got %v", c.Media.URLTTL)
	}
	if c.Analytics.QueueSize < 1 || c.Analytics.BatchSize < 1 || c.Analytics.BatchSize > c.Analytics.QueueSize {
		bad("analytics", "queue_size and batch_size must be positive, batch_size at most queue_size")
	}
	if c.Analytics.FlushInterval <= 0 || c.Analytics.FlushInterval > time.Minute {
		bad("analytics.flush_interval", "must be between 0 and 1m, got %v", c.Analytics.FlushInterval)
	}
	if c.Media.Workers < 1 || c.Media.Workers > 64 {
		bad("media.workers", "must be between 1 and 64, got %d", c.Media.Workers)
	}
	if c.Media.URLKey != "" {
		if b, err := hex.DecodeString(c.Media.URLKey); err != nil || len(b) != 32 {
			bad("media.url_key", "must be 64 hex characters")
		}
	}
	if c.Media.PublicBaseURL != "" {
		if u, err := url.Parse(c.Media.PublicBaseURL); err != nil || u.Host == "" {
			bad("media.public_base_url", "must be a URL such as https://cdn.example.com/media")
		}
	}
	if n := c.Notifications; n.Window < 100*time.Millisecond || n.Window > time.Minute {
		bad("notifications.window", "must be between 100ms and 1m, got %v", n.Window)
	}
	if n := c.Notifications; n.MaxEvents < 10 || n.MaxEvents > 20000 {
		bad("notifications.max_events", "must be between 10 and 20000, got %d", n.MaxEvents)
	}
	if n := c.Notifications; n.GroupWindow < 0 || n.GroupWindow > time.Second {
		bad("notifications.group_window", "must be between 0 and 1s, got %v", n.GroupWindow)
	}
	if n := c.Notifications; n.Shards < 1 || n.Shards > 64 {
		bad("notifications.shards", "must be between 1 and 64, got %d", n.Shards)
	}
	if n := c.Notifications; n.KeepAlive < 100*time.Millisecond || n.KeepAlive > 10*time.Minute {
		bad("notifications.keep_alive", "must be between 100ms and 10m, got %v", n.KeepAlive)
	}
	if n := c.Notifications; n.MaxStreams < 1 || n.MaxStreams > 100 {
		bad("notifications.max_streams", "must be between 1 and 100, got %d", n.MaxStreams)
	}
	if n := c.Notifications; n.DigestHour < 0 || n.DigestHour > 23 {
		bad("notifications.digest_hour", "must be between 0 and 23, got %d", n.DigestHour)
	}
	if n := c.Notifications; n.DigestWeekday < 0 || n.DigestWeekday > 6 {
		bad("notifications.digest_weekday", "must be between 0 (Sunday) and 6, got %d", n.DigestWeekday)
	}
	if c.Notifications.UnsubscribeKey != "" {
		if b, err := hex.DecodeString(c.Notifications.UnsubscribeKey); err != nil || len(b) != 32 {
			bad("notifications.unsubscribe_key", "must be 64 hex characters")
		}
	}
	checkAddr := func(key, v string, optional bool) {
		if v == "" && optional {
			return
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			bad(key, "must be host:port, got %q", v)
		}
	}
	checkAddr("http.addr", c.HTTP.Addr, false)
	checkAddr("http.pprof_addr", c.HTTP.PprofAddr, true)
	if u, err := url.Parse(c.HTTP.PublicURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		bad("http.public_url", "must be an http(s) URL, got %q", c.HTTP.PublicURL)
	}
	checkAddr("temporal.address", c.Temporal.Address, false)
	checkAddr("temporal.ui_addr", c.Temporal.UIAddr, true)
	if c.Temporal.Namespace == "" {
		bad("temporal.namespace", "must not be empty")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		bad("http.shutdown_timeout", "must be positive")
	}
	for _, h := range c.Cassandra.Hosts {
		checkAddr("cassandra.hosts", h, false)
	}
	if c.Cassandra.ReplicationFactor < 1 {
		bad("cassandra.replication_factor", "must be at least 1")
	}
	if c.Neo4j.URI != "" {
		if u, err := url.Parse(c.Neo4j.URI); err != nil || u.Host == "" {
			bad("neo4j.uri", "must be a URL such as bolt://host:7687, got %q", c.Neo4j.URI)
		}
	}
	checkAddr("clickhouse.addr", c.ClickHouse.Addr, true)
	if c.S3.Endpoint != "" {
		if u, err := url.Parse(c.S3.Endpoint); err != nil || u.Host == "" {
			bad("s3.endpoint", "must be a URL such as http://host:port, got %q", c.S3.Endpoint)
		}
	}
	checkAddr("smtp.addr", c.SMTP.Addr, true)
	if c.Auth.AccessTTL < time.Minute || c.Auth.AccessTTL > 24*time.Hour {
		bad("auth.access_ttl", "must be between 1m and 24h")
	}
	if c.Auth.KeyRotation < c.Auth.AccessTTL {
		bad("auth.key_rotation", "must be at least auth.access_ttl")
	}
	if c.Auth.Audience == "" {
		bad("auth.audience", "must not be empty")
	}
	if c.Auth.OIDCKey != "" {
		if b, err := hex.DecodeString(c.Auth.OIDCKey); err != nil || len(b) != 32 {
			bad("auth.oidc_key", "must be 64 hex characters (32 bytes)")
		}
	}
	for _, u := range c.Auth.OIDCRedirectURIs {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" {
			bad("auth.oidc_redirect_uris", "%q is not an absolute URI", u)
		}
	}
	for _, u := range c.Auth.OIDCPostLogoutRedirectURIs {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" {
			bad("auth.oidc_post_logout_redirect_uris", "%q is not an absolute URI", u)
		}
	}
	if c.Auth.JWKSURL != "" {
		if u, err := url.Parse(c.Auth.JWKSURL); err != nil || u.Host == "" {
			bad("auth.jwks_url", "must be a URL, got %q", c.Auth.JWKSURL)
		}
	}
	c.validateEdge(bad, checkAddr)
	return errors.Join(errs...)
}

// nameRE is the form of feature flag and expensive-procedure names: what an
// environment variable can spell (EJAZZ_FEATURES_<NAME>).
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validateEdge checks the gateway, ratelimit, telemetry and features sections.
func (c *Config) validateEdge(bad func(key, format string, args ...any), checkAddr func(key, v string, optional bool)) {
	g := c.Gateway
	for _, name := range slices.Sorted(maps.Keys(g.Backends)) {
		instances := g.Backends[name]
		key := "gateway.backends." + name
		if strings.TrimSpace(name) == "" {
			bad("gateway.backends", "service names must not be empty")
		}
		if len(instances) == 0 {
			bad(key, "needs at least one instance URL or dns:///host:port")
		}
		for _, in := range instances {
			if target, ok := strings.CutPrefix(in, "dns:///"); ok {
				checkAddr(key, target, false)
				continue
			}
			if u, err := url.Parse(in); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				bad(key, "%q is neither an http(s) URL nor dns:///host:port", in)
			}
		}
	}
	for i, k := range g.IdentityKeys {
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			bad("gateway.identity_keys", "key %d must be 64 hex characters (32 bytes)", i)
		}
	}
	if g.MaxBodyBytes < 1<<10 || g.MaxBodyBytes > 1<<30 {
		bad("gateway.max_body_bytes", "must be between 1 KiB and 1 GiB, got %d", g.MaxBodyBytes)
	}
	if g.Timeout < 100*time.Millisecond || g.Timeout > 10*time.Minute {
		bad("gateway.timeout", "must be between 100ms and 10m, got %v", g.Timeout)
	}
	if g.HealthInterval < 100*time.Millisecond || g.HealthInterval > 5*time.Minute {
		bad("gateway.health_interval", "must be between 100ms and 5m, got %v", g.HealthInterval)
	}
	if g.DNSRefresh < time.Second || g.DNSRefresh > time.Hour {
		bad("gateway.dns_refresh", "must be between 1s and 1h, got %v", g.DNSRefresh)
	}

	checkLimit := func(key string, l Limit) {
		if l.Rate <= 0 || math.IsInf(l.Rate, 0) || math.IsNaN(l.Rate) {
			bad(key+".rate", "must be a positive number of calls per second, got %v", l.Rate)
		}
		if l.Burst < 1 {
			bad(key+".burst", "must be at least 1, got %d", l.Burst)
		}
	}
	r := c.RateLimit
	checkLimit("ratelimit.user", r.User)
	checkLimit("ratelimit.ip", r.IP)
	for _, name := range slices.Sorted(maps.Keys(r.Expensive)) {
		if !nameRE.MatchString(name) {
			bad("ratelimit.expensive", "%q is not a snake_case procedure name", name)
		}
		checkLimit("ratelimit.expensive."+name, r.Expensive[name])
	}
	for _, p := range r.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad("ratelimit.trusted_proxies", "%q is neither a CIDR nor an IP address", p)
		}
	}

	t := c.Telemetry
	if !slices.Contains([]string{"none", "otlp", "stdout"}, t.Exporter) {
		bad("telemetry.exporter", "must be none, otlp or stdout, got %q", t.Exporter)
	}
	checkAddr("telemetry.endpoint", t.Endpoint, true)
	if t.SampleRatio <= 0 || t.SampleRatio > 1 || math.IsNaN(t.SampleRatio) {
		bad("telemetry.sample_ratio", "must be in (0, 1], got %v", t.SampleRatio)
	}

	for _, name := range slices.Sorted(maps.Keys(c.Features)) {
		if !nameRE.MatchString(name) {
			bad("features", "%q is not a snake_case feature name", name)
		}
	}
}

// RequireScale reports the scale-profile settings that are missing, naming each key.
// Services call it with the keys they need before connecting.
func (c *Config) RequireScale(keys ...string) error {
	vals := map[string]bool{
		"postgres.dsn":     c.Postgres.DSN != "",
		"cassandra.hosts":  len(c.Cassandra.Hosts) > 0,
		"neo4j.uri":        c.Neo4j.URI != "",
		"clickhouse.addr":  c.ClickHouse.Addr != "",
		"s3.endpoint":      c.S3.Endpoint != "",
		"s3.access_key":    c.S3.AccessKey != "",
		"s3.secret_key":    c.S3.SecretKey != "",
		"smtp.addr":        c.SMTP.Addr != "",
		"temporal.address": c.Temporal.Address != "",
	}
	var missing []string
	for _, k := range keys {
		if set, ok := vals[k]; !ok || !set {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	var envs []string
	for _, m := range missing {
		envs = append(envs, EnvPrefix+strings.ToUpper(strings.ReplaceAll(m, ".", "_")))
	}
	return fmt.Errorf("config: the scale profile needs %s (env %s)", strings.Join(missing, ", "), strings.Join(envs, ", "))
}

// splitList splits a list given as one string: comma- or
// whitespace-separated items (an environment variable or a secret file with
// one item per line).
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// Addresses lists the configured engines for logs and /readyz: key → address
// (never a secret).
func (c *Config) Addresses() map[string]string {
	out := map[string]string{"temporal.address": c.Temporal.Address}
	if len(c.Cassandra.Hosts) > 0 {
		out["cassandra.hosts"] = strings.Join(c.Cassandra.Hosts, ",")
	}
	if c.Neo4j.URI != "" {
		out["neo4j.uri"] = c.Neo4j.URI
	}
	if c.ClickHouse.Addr != "" {
		out["clickhouse.addr"] = c.ClickHouse.Addr
	}
	if c.S3.Endpoint != "" {
		out["s3.endpoint"] = c.S3.Endpoint
	}
	if c.SMTP.Addr != "" {
		out["smtp.addr"] = c.SMTP.Addr
	}
	return out
}

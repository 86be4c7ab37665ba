// Package app wires Ejazz's processes: it opens the store adapters of the
// configured profile (embedded: SQLite and local files; scale: the real
// engines), connects to Temporal, starts workers and the public edge. It is
// the only package that imports both domains and adapters.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/ejazz/ejazz/analytics"
	analyticsch "github.com/ejazz/ejazz/analytics/clickhouse"
	analyticssqlite "github.com/ejazz/ejazz/analytics/sqlite"
	"github.com/ejazz/ejazz/internal/account"
	accountpg "github.com/ejazz/ejazz/internal/account/postgres"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/blob"
	blobfile "github.com/ejazz/ejazz/internal/blob/file"
	blobs3 "github.com/ejazz/ejazz/internal/blob/s3"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/engine/clickhouse"
	"github.com/ejazz/ejazz/internal/engine/neo4j"
	"github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/graph"
	graphneo4j "github.com/ejazz/ejazz/internal/graph/neo4j"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/mail/devbox"
	mailsmtp "github.com/ejazz/ejazz/internal/mail/smtp"
	"github.com/ejazz/ejazz/internal/media"
	mediapg "github.com/ejazz/ejazz/internal/media/postgres"
	mediasqlite "github.com/ejazz/ejazz/internal/media/sqlite"
	"github.com/ejazz/ejazz/internal/notification"
	notificationcass "github.com/ejazz/ejazz/internal/notification/cassandra"
	notificationpg "github.com/ejazz/ejazz/internal/notification/postgres"
	notificationsqlite "github.com/ejazz/ejazz/internal/notification/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	postcass "github.com/ejazz/ejazz/internal/post/cassandra"
	postsqlite "github.com/ejazz/ejazz/internal/post/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	profilepg "github.com/ejazz/ejazz/internal/profile/postgres"
	profilesqlite "github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/ratelimit"
	rlmemory "github.com/ejazz/ejazz/internal/ratelimit/memory"
	rlpostgres "github.com/ejazz/ejazz/internal/ratelimit/postgres"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
	timelinecass "github.com/ejazz/ejazz/internal/timeline/cassandra"
	timelinesqlite "github.com/ejazz/ejazz/internal/timeline/sqlite"
)

// AllComponents lists every store component.
var AllComponents = []string{
	account.Component, profile.Component, graph.Component, post.Component, timeline.Component,
	notification.Component, media.Component, blob.Component, analytics.Component, mail.Component, ratelimit.Component,
}

// ServiceComponents maps each public service to the stores it needs.
var ServiceComponents = map[string][]string{
	"auth":         {account.Component, profile.Component, mail.Component, analytics.Component},
	"user":         {profile.Component, graph.Component, post.Component, analytics.Component},
	"post":         {post.Component, graph.Component, media.Component, blob.Component, profile.Component, analytics.Component},
	"feed":         {timeline.Component, post.Component, graph.Component, profile.Component, media.Component, blob.Component, analytics.Component},
	"media":        {media.Component, blob.Component},
	"notification": {notification.Component, profile.Component, graph.Component},
	"analytics":    {analytics.Component, post.Component, profile.Component},
}

// Stores holds the opened adapters; fields of components not opened are nil.
type Stores struct {
	Accounts      account.Store
	Profiles      profile.Store
	Graph         graph.Store
	Posts         post.Store
	Timelines     timeline.Store
	Notifications notification.Store
	Media         media.Store
	Blobs         blob.Store
	Analytics     analytics.Store
	// Mail sends mail: over SMTP on the scale profile; into the dev mailbox
	// (DevMail, browsable at /dev/mail) on the embedded profile.
	Mail    mail.Mailer
	DevMail *devbox.Box
	// RateLimits hold the gateway's token buckets: in memory on the
	// embedded profile (one process), in PostgreSQL on the scale profile
	// (shared by every gateway replica).
	RateLimits ratelimit.Store

	// NotificationPrefs are the notification preferences (opened with
	// Notifications); NotificationBroker carries live notifications to
	// streams: in-process on the embedded profile, PostgreSQL
	// LISTEN/NOTIFY on the scale profile.
	NotificationPrefs  notification.PreferenceStore
	NotificationBroker notification.Broker

	list    []storage.Store
	closers []func() error
}

// All returns the opened stores, sorted by name.
func (s *Stores) All() []storage.Store { return s.list }

// Migrate applies every opened store's migrations.
func (s *Stores) Migrate(ctx context.Context) error {
	for _, st := range s.list {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.Name(), err)
		}
	}
	return nil
}

// Close closes the stores and then the engine connections.
func (s *Stores) Close() error {
	var errs []error
	for _, st := range s.list {
		errs = append(errs, st.Close())
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

// OpenStores opens the adapters of the given components for cfg's profile.
func OpenStores(ctx context.Context, cfg *config.Config, components []string) (st *Stores, err error) {
	for _, c := range components {
		if !slices.Contains(AllComponents, c) {
			return nil, fmt.Errorf("unknown store component %q", c)
		}
	}
	s := &Stores{}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	want := func(c string) bool { return slices.Contains(components, c) }
	if cfg.Profile == config.ProfileEmbedded {
		err = s.openEmbedded(cfg, want)
	} else {
		err = s.openScale(ctx, cfg, want)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].Name() < s.list[j].Name() })
	return s, nil
}

func (s *Stores) add(st storage.Store) { s.list = append(s.list, st) }

func (s *Stores) openEmbedded(cfg *config.Config, want func(string) bool) error {
	open := func(component string) (*sqlite.DB, error) {
		db, err := sqlite.Open(filepath.Join(cfg.DataDir, "db", component+".db"))
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, db.Close)
		return db, nil
	}
	type opener struct {
		component string
		build     func(*sqlite.DB)
	}
	for _, o := range []opener{
		{account.Component, func(db *sqlite.DB) { s.Accounts = accountsqlite.New(db); s.add(s.Accounts) }},
		{profile.Component, func(db *sqlite.DB) { s.Profiles = profilesqlite.New(db); s.add(s.Profiles) }},
		{graph.Component, func(db *sqlite.DB) { s.Graph = graphsqlite.New(db); s.add(s.Graph) }},
		{post.Component, func(db *sqlite.DB) { s.Posts = postsqlite.New(db); s.add(s.Posts) }},
		{timeline.Component, func(db *sqlite.DB) { s.Timelines = timelinesqlite.New(db); s.add(s.Timelines) }},
		{notification.Component, func(db *sqlite.DB) {
			s.Notifications, s.NotificationPrefs = notificationsqlite.New(db), notificationsqlite.NewPreferences(db)
			s.NotificationBroker = &notification.Hub{MaxPerUser: cfg.Notifications.MaxStreams}
			s.add(s.Notifications)
			s.add(s.NotificationPrefs)
		}},
		{media.Component, func(db *sqlite.DB) { s.Media = mediasqlite.New(db); s.add(s.Media) }},
		{analytics.Component, func(db *sqlite.DB) { s.Analytics = analyticssqlite.New(db); s.add(s.Analytics) }},
		{mail.Component, func(db *sqlite.DB) { s.DevMail = devbox.New(db, cfg.SMTP.From); s.Mail = s.DevMail; s.add(s.Mail) }},
	} {
		if !want(o.component) {
			continue
		}
		db, err := open(o.component)
		if err != nil {
			return err
		}
		o.build(db)
	}
	if want(blob.Component) {
		key, err := urlKey(cfg.Media.URLKey)
		if err != nil {
			return err
		}
		// The embedded store signs URLs that this process serves at
		// blobfile.PathPrefix, so clients upload and download directly, as
		// with S3 on the scale profile.
		s.Blobs = blobfile.New(filepath.Join(cfg.DataDir, "media")).WithURLs(cfg.HTTP.PublicURL, key)
		s.add(s.Blobs)
	}
	if want(ratelimit.Component) {
		rl := rlmemory.New()
		s.RateLimits = rl
		s.add(rl)
	}
	return nil
}

// scaleKeys names the settings each component needs on the scale profile.
var scaleKeys = map[string][]string{
	account.Component:      {"postgres.dsn"},
	profile.Component:      {"postgres.dsn"},
	media.Component:        {"postgres.dsn"},
	graph.Component:        {"neo4j.uri"},
	post.Component:         {"cassandra.hosts"},
	timeline.Component:     {"cassandra.hosts"},
	notification.Component: {"cassandra.hosts", "postgres.dsn"},
	analytics.Component:    {"clickhouse.addr"},
	blob.Component:         {"s3.endpoint", "s3.access_key", "s3.secret_key"},
	mail.Component:         {"smtp.addr"},
	ratelimit.Component:    {"postgres.dsn"},
}

func (s *Stores) openScale(ctx context.Context, cfg *config.Config, want func(string) bool) error {
	var keys []string
	for c, ks := range scaleKeys {
		if want(c) {
			keys = append(keys, ks...)
		}
	}
	slices.Sort(keys)
	if err := cfg.RequireScale(slices.Compact(keys)...); err != nil {
		return err
	}
	if want(account.Component) || want(profile.Component) || want(media.Component) || want(notification.Component) || want(ratelimit.Component) {
		pg, err := postgres.Open(ctx, cfg.Postgres.DSN)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, func() error { pg.Close(); return nil })
		if want(account.Component) {
			s.Accounts = accountpg.New(pg)
			s.add(s.Accounts)
		}
		if want(profile.Component) {
			s.Profiles = profilepg.New(pg)
			s.add(s.Profiles)
		}
		if want(media.Component) {
			s.Media = mediapg.New(pg)
			s.add(s.Media)
		}
		if want(ratelimit.Component) {
			rl := rlpostgres.New(pg)
			s.RateLimits = rl
			s.add(rl)
		}
		if want(notification.Component) {
			// Preferences live in PostgreSQL (the inbox in Cassandra,
			// below); live notifications travel over LISTEN/NOTIFY.
			s.NotificationPrefs = notificationpg.NewPreferences(pg)
			s.add(s.NotificationPrefs)
			b := notificationpg.NewBroker(pg, nil)
			b.MaxPerUser = cfg.Notifications.MaxStreams
			s.NotificationBroker = b
			s.closers = append(s.closers, b.Close)
		}
	}
	if want(graph.Component) {
		nd, err := neo4j.Open(ctx, neo4j.Options{URI: cfg.Neo4j.URI, Username: cfg.Neo4j.Username, Password: cfg.Neo4j.Password, Database: cfg.Neo4j.Database})
		if err != nil {
			return err
		}
		s.closers = append(s.closers, func() error { return nd.Close(context.Background()) })
		s.Graph = graphneo4j.New(nd)
		s.add(s.Graph)
	}
	if want(post.Component) || want(timeline.Component) || want(notification.Component) {
		cd, err := cassandra.Open(ctx, cassandra.Options{
			Hosts: cfg.Cassandra.Hosts, Keyspace: cfg.Cassandra.Keyspace, ReplicationFactor: cfg.Cassandra.ReplicationFactor,
			Username: cfg.Cassandra.Username, Password: cfg.Cassandra.Password,
		})
		if err != nil {
			return err
		}
		s.closers = append(s.closers, func() error { cd.Close(); return nil })
		if want(post.Component) {
			s.Posts = postcass.New(cd)
			s.add(s.Posts)
		}
		if want(timeline.Component) {
			s.Timelines = timelinecass.New(cd)
			s.add(s.Timelines)
		}
		if want(notification.Component) {
			s.Notifications = notificationcass.New(cd)
			s.add(s.Notifications)
		}
	}
	if want(analytics.Component) {
		chdb, err := clickhouse.Open(ctx, clickhouse.Options{Addr: cfg.ClickHouse.Addr, Database: cfg.ClickHouse.Database, Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password})
		if err != nil {
			return err
		}
		s.closers = append(s.closers, chdb.Close)
		s.Analytics = analyticsch.New(chdb)
		s.add(s.Analytics)
	}
	if want(mail.Component) {
		m, err := mailsmtp.New(mailsmtp.Options{Addr: cfg.SMTP.Addr, From: cfg.SMTP.From, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password})
		if err != nil {
			return err
		}
		s.Mail = m
		s.add(s.Mail)
	}
	if want(blob.Component) {
		b, err := blobs3.New(blobs3.Options{Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region, Bucket: cfg.S3.Bucket, AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey})
		if err != nil {
			return err
		}
		s.Blobs = b
		s.add(s.Blobs)
	}
	return nil
}

// urlKey decodes media.url_key, or makes a random key for this process (the
// embedded profile's signed URLs then last until it restarts).
func urlKey(hexKey string) ([]byte, error) {
	if hexKey == "" {
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("media.url_key must be 64 hex characters")
	}
	return key, nil
}

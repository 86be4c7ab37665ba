// Package storetest holds the conformance suites every adapter of a store
// port must pass (one exported suite per port), and helpers that open an
// isolated instance of each engine for tests: a temporary SQLite file, or a
// fresh schema/keyspace/database/bucket on the real engines that
// `dev/stack up` starts (addresses from the EJAZZ_* variables of
// `dev/stack env`; under CI=true a missing engine fails the test).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/blob/s3"
	"github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/engine/clickhouse"
	"github.com/ejazz/ejazz/internal/engine/neo4j"
	"github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/testenv"
)

// UniqueName returns prefix plus a random suffix usable as an identifier in
// every engine (lowercase letters, digits, underscore).
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// SQLite opens a fresh SQLite file in a temporary directory.
func SQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Postgres connects to EJAZZ_POSTGRES_DSN with a fresh schema as search_path,
// dropped at cleanup.
func Postgres(t testing.TB) *postgres.DB {
	t.Helper()
	dsn := testenv.Require(t, "EJAZZ_POSTGRES_DSN")
	c := ctx(t)
	admin, err := postgres.Open(c, dsn)
	if err != nil {
		testenv.Unreachable(t, "postgres", err)
	}
	schema := UniqueName("test")
	if _, err := admin.Exec(c, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(c, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Cassandra opens a session on a fresh keyspace (EJAZZ_CASSANDRA_HOSTS),
// dropped at cleanup.
func Cassandra(t testing.TB) *cassandra.DB {
	t.Helper()
	hosts := strings.Split(testenv.Require(t, "EJAZZ_CASSANDRA_HOSTS"), ",")
	ks := UniqueName("test")
	db, err := cassandra.Open(ctx(t), cassandra.Options{Hosts: hosts, Keyspace: ks, ReplicationFactor: 1, Timeout: 30 * time.Second})
	if err != nil {
		testenv.Unreachable(t, "cassandra", err)
	}
	t.Cleanup(func() {
		_ = db.Session.Query("DROP KEYSPACE IF EXISTS " + ks).Exec()
		db.Close()
	})
	return db
}

// Neo4j connects to EJAZZ_NEO4J_URI. Neo4j Community has one database, so
// tests isolate their data by id prefixes rather than by database.
func Neo4j(t testing.TB) *neo4j.DB {
	t.Helper()
	uri := testenv.Require(t, "EJAZZ_NEO4J_URI")
	db, err := neo4j.Open(ctx(t), neo4j.Options{URI: uri, Database: "neo4j"})
	if err != nil {
		testenv.Unreachable(t, "neo4j", err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return db
}

// ClickHouse connects to a fresh database on EJAZZ_CLICKHOUSE_ADDR, dropped at cleanup.
func ClickHouse(t testing.TB) *clickhouse.DB {
	t.Helper()
	addr := testenv.Require(t, "EJAZZ_CLICKHOUSE_ADDR")
	name := UniqueName("test")
	db, err := clickhouse.Open(ctx(t), clickhouse.Options{Addr: addr, Database: name, Username: "default"})
	if err != nil {
		testenv.Unreachable(t, "clickhouse", err)
	}
	t.Cleanup(func() {
		_ = db.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
		_ = db.Close()
	})
	return db
}

// S3 returns a blob store on a fresh bucket of EJAZZ_S3_ENDPOINT (created by
// Migrate; emptied and removed at cleanup).
func S3(t testing.TB) *s3.Store {
	t.Helper()
	endpoint := testenv.Require(t, "EJAZZ_S3_ENDPOINT")
	st, err := s3.New(s3.Options{
		Endpoint:  endpoint,
		Region:    envOr("EJAZZ_S3_REGION", "us-east-1"),
		Bucket:    strings.ReplaceAll(UniqueName("test"), "_", "-"),
		AccessKey: testenv.Require(t, "EJAZZ_S3_ACCESS_KEY"),
		SecretKey: testenv.Require(t, "EJAZZ_S3_SECRET_KEY"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx(t)); err != nil {
		testenv.Unreachable(t, "s3", err)
	}
	t.Cleanup(func() { cleanBucket(st) })
	return st
}

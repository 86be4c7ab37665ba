package smoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gocql/gocql"
	"github.com/jackc/pgx/v5"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	neo4jconfig "github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ejazz/ejazz/internal/testenv"
)

// suffix returns 12 random lowercase hex characters: valid in every engine's
// identifiers (and in S3 bucket names).
func suffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// timeout returns a context cancelled after d or at the end of the test.
func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// cleanupCtx returns a fresh bounded context for cleanup work, which must run
// even when the test's own context has expired.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// ---------------------------------------------------------------------------
// PostgreSQL (pgx/v5)

func TestPostgres(t *testing.T) {
	dsn := testenv.Require(t, "EJAZZ_POSTGRES_DSN")
	ctx := timeout(t, time.Minute)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		testenv.Unreachable(t, "postgres", err)
	}
	t.Cleanup(func() {
		c, cancel := cleanupCtx()
		defer cancel()
		_ = conn.Close(c)
	})

	// A temporary table lives in this session only; it is also dropped
	// explicitly below.
	table := "smoke_" + suffix(t)
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE "+table+" (id int PRIMARY KEY, name text NOT NULL, score bigint NOT NULL)"); err != nil {
		t.Fatalf("create temp table: %v", err)
	}
	t.Cleanup(func() {
		c, cancel := cleanupCtx()
		defer cancel()
		if _, err := conn.Exec(c, "DROP TABLE IF EXISTS "+table); err != nil {
			t.Errorf("drop table %s: %v", table, err)
		}
	})

	type row struct {
		id    int32
		name  string
		score int64
	}
	want := []row{{1, "alice", 10}, {2, "bob", -3}, {3, "zoë ✓", 1 << 40}}

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	for _, r := range want {
		if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (id, name, score) VALUES ($1, $2, $3)", r.id, r.name, r.score); err != nil {
			_ = tx.Rollback(ctx)
			t.Fatalf("insert %v: %v", r, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}

	rows, err := conn.Query(ctx, "SELECT id, name, score FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.name, &x.score)
		return x, err
	})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// A rolled-back transaction leaves no trace.
	tx, err = conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (id, name, score) VALUES (99, 'ghost', 0)"); err != nil {
		_ = tx.Rollback(ctx)
		t.Fatalf("insert in rolled-back tx: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	if n != int64(len(want)) {
		t.Errorf("count after rollback = %d, want %d", n, len(want))
	}
}

// ---------------------------------------------------------------------------
// Cassandra (gocql)

func TestCassandra(t *testing.T) {
	hostsVar := testenv.Require(t, "EJAZZ_CASSANDRA_HOSTS")
	ctx := timeout(t, 3*time.Minute)

	var hosts []string
	port := 9042
	for _, h := range strings.Split(hostsVar, ",") {
		host, p, err := net.SplitHostPort(strings.TrimSpace(h))
		if err != nil {
			t.Fatalf("EJAZZ_CASSANDRA_HOSTS: %q: %v", h, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			t.Fatalf("EJAZZ_CASSANDRA_HOSTS: %q: bad port", h)
		}
		hosts = append(hosts, host)
	}
	cluster := func() *gocql.ClusterConfig {
		c := gocql.NewCluster(hosts...)
		c.Port = port
		c.ProtoVersion = 4
		c.Consistency = gocql.LocalQuorum
		c.Timeout = 30 * time.Second
		c.ConnectTimeout = 10 * time.Second
		// A token-aware policy cannot be shared between sessions: every
		// config (hence every session) gets its own.
		c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
		return c
	}

	boot, err := cluster().CreateSession()
	if err != nil {
		testenv.Unreachable(t, "cassandra", err)
	}
	t.Cleanup(boot.Close)

	ks := "smoke_" + suffix(t)
	if err := boot.Query("CREATE KEYSPACE " + ks + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").WithContext(ctx).Exec(); err != nil {
		t.Fatalf("create keyspace: %v", err)
	}
	// Registered after boot.Close, so it runs before it (cleanups are LIFO).
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := boot.Query("DROP KEYSPACE IF EXISTS " + ks).WithContext(c).Exec(); err != nil {
			t.Errorf("drop keyspace %s: %v", ks, err)
		}
	})

	cfg := cluster()
	cfg.Keyspace = ks
	s, err := cfg.CreateSession()
	if err != nil {
		t.Fatalf("session on keyspace %s: %v", ks, err)
	}
	t.Cleanup(s.Close)

	if err := s.Query(`CREATE TABLE posts (author text, id timeuuid, body text, likes int, tags set<text>, PRIMARY KEY (author, id))`).WithContext(ctx).Exec(); err != nil {
		t.Fatalf("create table: %v", err)
	}

	type post struct {
		id    gocql.UUID
		body  string
		likes int
		tags  []string
	}
	author := "alice_" + ks
	want := []post{
		{gocql.TimeUUID(), "first post", 3, []string{"hello", "intro"}},
		{gocql.TimeUUID(), "second post ✓", 0, []string{"news"}},
	}
	// gocql prepares statements with bind markers and reuses the prepared id.
	ins := `INSERT INTO posts (author, id, body, likes, tags) VALUES (?, ?, ?, ?, ?)`
	for _, p := range want {
		if err := s.Query(ins, author, p.id, p.body, p.likes, p.tags).WithContext(ctx).Exec(); err != nil {
			t.Fatalf("insert %v: %v", p, err)
		}
	}

	it := s.Query(`SELECT id, body, likes, tags FROM posts WHERE author = ? ORDER BY id ASC`, author).WithContext(ctx).Iter()
	var got []post
	var p post
	for it.Scan(&p.id, &p.body, &p.likes, &p.tags) {
		got = append(got, p)
		p = post{}
	}
	if err := it.Close(); err != nil {
		t.Fatalf("select: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.id != w.id || g.body != w.body || g.likes != w.likes || strings.Join(g.tags, ",") != strings.Join(w.tags, ",") {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}

	// Single-row read by full primary key.
	var body string
	if err := s.Query(`SELECT body FROM posts WHERE author = ? AND id = ?`, author, want[1].id).WithContext(ctx).Scan(&body); err != nil {
		t.Fatalf("select one: %v", err)
	}
	if body != want[1].body {
		t.Errorf("body = %q, want %q", body, want[1].body)
	}
}

// ---------------------------------------------------------------------------
// Neo4j (neo4j-go-driver/v5)

func TestNeo4j(t *testing.T) {
	uri := testenv.Require(t, "EJAZZ_NEO4J_URI")
	ctx := timeout(t, time.Minute)

	drv, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth(), func(c *neo4jconfig.Config) {
		c.SocketConnectTimeout = 5 * time.Second
	})
	if err != nil {
		t.Fatalf("EJAZZ_NEO4J_URI: %v", err)
	}
	t.Cleanup(func() {
		c, cancel := cleanupCtx()
		defer cancel()
		_ = drv.Close(c)
	})
	if err := drv.VerifyConnectivity(ctx); err != nil {
		testenv.Unreachable(t, "neo4j", err)
	}
	db := neo4j.ExecuteQueryWithDatabase("neo4j")
	run := func(ctx context.Context, q string, params map[string]any) *neo4j.EagerResult {
		t.Helper()
		res, err := neo4j.ExecuteQuery(ctx, drv, q, params, neo4j.EagerResultTransformer, db)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res
	}

	res := run(ctx, "RETURN 1 AS one", nil)
	if len(res.Records) != 1 {
		t.Fatalf("RETURN 1: %d records", len(res.Records))
	}
	if one, _ := res.Records[0].Get("one"); one != int64(1) {
		t.Fatalf("RETURN 1 = %#v, want int64(1)", one)
	}

	// A fixed label plus a unique run property: labels cannot be removed from
	// Neo4j's token store, so a random label per run would pile up.
	runID := "smoke_" + suffix(t)
	t.Cleanup(func() {
		c, cancel := cleanupCtx()
		defer cancel()
		if _, err := neo4j.ExecuteQuery(c, drv, "MATCH (n:EjazzSmokeTest {run: $run}) DETACH DELETE n",
			map[string]any{"run": runID}, neo4j.EagerResultTransformer, db); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	params := map[string]any{"run": runID, "a": "alice", "b": "bob", "since": int64(2024)}
	res = run(ctx, `MERGE (a:EjazzSmokeTest {run: $run, name: $a})
MERGE (b:EjazzSmokeTest {run: $run, name: $b})
MERGE (a)-[r:FOLLOWS {since: $since}]->(b)
RETURN a.name AS a, b.name AS b`, params)
	if len(res.Records) != 1 {
		t.Fatalf("MERGE returned %d records, want 1", len(res.Records))
	}
	// MERGE again is idempotent: still two nodes and one relationship.
	run(ctx, `MERGE (a:EjazzSmokeTest {run: $run, name: $a})
MERGE (b:EjazzSmokeTest {run: $run, name: $b})
MERGE (a)-[r:FOLLOWS {since: $since}]->(b)`, params)

	res = run(ctx, `MATCH (a:EjazzSmokeTest {run: $run})-[r:FOLLOWS]->(b:EjazzSmokeTest {run: $run})
RETURN a.name AS a, b.name AS b, r.since AS since`, map[string]any{"run": runID})
	if len(res.Records) != 1 {
		t.Fatalf("MATCH returned %d records, want 1", len(res.Records))
	}
	rec := res.Records[0]
	a, _ := rec.Get("a")
	b, _ := rec.Get("b")
	since, _ := rec.Get("since")
	if a != "alice" || b != "bob" || since != int64(2024) {
		t.Errorf("got (%#v)-[FOLLOWS {since: %#v}]->(%#v), want (alice)-[FOLLOWS {since: 2024}]->(bob)", a, since, b)
	}
	res = run(ctx, "MATCH (n:EjazzSmokeTest {run: $run}) RETURN count(n) AS n", map[string]any{"run": runID})
	if n, _ := res.Records[0].Get("n"); n != int64(2) {
		t.Errorf("node count = %#v, want 2", n)
	}

	res = run(ctx, "MATCH (n:EjazzSmokeTest {run: $run}) DETACH DELETE n", map[string]any{"run": runID})
	if d := res.Summary.Counters().NodesDeleted(); d != 2 {
		t.Errorf("nodes deleted = %d, want 2", d)
	}
	if d := res.Summary.Counters().RelationshipsDeleted(); d != 1 {
		t.Errorf("relationships deleted = %d, want 1", d)
	}
	res = run(ctx, "MATCH (n:EjazzSmokeTest {run: $run}) RETURN count(n) AS n", map[string]any{"run": runID})
	if n, _ := res.Records[0].Get("n"); n != int64(0) {
		t.Errorf("node count after delete = %#v, want 0", n)
	}
}

// ---------------------------------------------------------------------------
// ClickHouse (clickhouse-go/v2, native protocol)

func TestClickHouse(t *testing.T) {
	addr := testenv.Require(t, "EJAZZ_CLICKHOUSE_ADDR")
	ctx := timeout(t, time.Minute)

	conn, err := ch.Open(&ch.Options{
		Addr:        []string{addr},
		Auth:        ch.Auth{Database: "default"},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("clickhouse open: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.Ping(ctx); err != nil {
		testenv.Unreachable(t, "clickhouse", err)
	}

	dbName := "smoke_" + suffix(t)
	if err := conn.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, cancel := cleanupCtx()
		defer cancel()
		if err := conn.Exec(c, "DROP DATABASE IF EXISTS "+dbName); err != nil {
			t.Errorf("drop database %s: %v", dbName, err)
		}
	})
	table := dbName + ".events"
	if err := conn.Exec(ctx, `CREATE TABLE `+table+` (
		id UInt64, kind String, score Float64, at DateTime
	) ENGINE = MergeTree ORDER BY id`); err != nil {
		t.Fatalf("create table: %v", err)
	}

	type event struct {
		id    uint64
		kind  string
		score float64
		at    time.Time
	}
	base := time.Unix(1_700_000_000, 0).UTC()
	want := []event{
		{1, "view", 0.5, base},
		{2, "like", 1.25, base.Add(time.Minute)},
		{3, "view", -2, base.Add(time.Hour)},
		{4, "share", 1e6, base.Add(24 * time.Hour)},
	}
	// 18.16 hangs on Exec("INSERT … VALUES"): batches with an explicit column list.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (id, kind, score, at)")
	if err != nil {
		t.Fatalf("prepare batch: %v", err)
	}
	for _, e := range want {
		if err := batch.Append(e.id, e.kind, e.score, e.at); err != nil {
			_ = batch.Abort()
			t.Fatalf("append %v: %v", e, err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send batch: %v", err)
	}

	rows, err := conn.Query(ctx, "SELECT id, kind, score, at FROM "+table+" WHERE kind = ? AND id >= ? ORDER BY id", "view", uint64(1))
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	var got []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.id, &e.kind, &e.score, &e.at); err != nil {
			t.Fatalf("scan: %v", err)
		}
		got = append(got, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	_ = rows.Close()
	wantViews := []event{want[0], want[2]}
	if len(got) != len(wantViews) {
		t.Fatalf("got %d rows %v, want %d %v", len(got), got, len(wantViews), wantViews)
	}
	for i, w := range wantViews {
		g := got[i]
		if g.id != w.id || g.kind != w.kind || g.score != w.score || !g.at.Equal(w.at) {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}

	var count uint64
	var sum float64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(score) FROM "+table+" WHERE at >= ?", base).Scan(&count, &sum); err != nil {
		t.Fatalf("aggregate: %v", err)
	}
	if count != 4 || sum != 0.5+1.25-2+1e6 {
		t.Errorf("count, sum = %d, %v; want 4, %v", count, sum, 0.5+1.25-2+1e6)
	}
}

// ---------------------------------------------------------------------------
// S3 (aws-sdk-go-v2 against versitygw)

// skewedPresigner signs as if it were signingTime+skew: with a negative skew
// larger than the expiry, the URL is already expired when issued.
type skewedPresigner struct {
	inner awss3.HTTPPresignerV4
	skew  time.Duration
}

func (p skewedPresigner) PresignHTTP(ctx context.Context, cr aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.inner.PresignHTTP(ctx, cr, r, payloadHash, service, region, signingTime.Add(p.skew), optFns...)
}

func TestS3(t *testing.T) {
	endpoint := testenv.Require(t, "EJAZZ_S3_ENDPOINT")
	region := testenv.Require(t, "EJAZZ_S3_REGION")
	accessKey := testenv.Require(t, "EJAZZ_S3_ACCESS_KEY")
	secretKey := testenv.Require(t, "EJAZZ_S3_SECRET_KEY")
	ctx := timeout(t, time.Minute)

	httpClient := &http.Client{Timeout: 30 * time.Second}
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:  httpClient,
	}
	c := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if _, err := c.ListBuckets(ctx, &awss3.ListBucketsInput{}); err != nil {
		var nerr net.Error
		if errors.As(err, &nerr) {
			testenv.Unreachable(t, "s3", err)
		}
		t.Fatalf("list buckets: %v", err)
	}

	bucket := "ejazz-smoke-" + suffix(t)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	var keys []string
	t.Cleanup(func() {
		cc, cancel := cleanupCtx()
		defer cancel()
		for _, k := range keys {
			if _, err := c.DeleteObject(cc, &awss3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(k)}); err != nil {
				t.Errorf("delete object %s: %v", k, err)
			}
		}
		if _, err := c.DeleteBucket(cc, &awss3.DeleteBucketInput{Bucket: &bucket}); err != nil {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})

	get := func(key string) ([]byte, string) {
		t.Helper()
		out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return b, aws.ToString(out.ContentType)
	}

	// Plain PutObject / GetObject.
	key := "media/hello.txt"
	body := []byte("hello from the ejazz smoke test ✓\n")
	keys = append(keys, key)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("text/plain; charset=utf-8"),
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	if got, ct := get(key); !bytes.Equal(got, body) || ct != "text/plain; charset=utf-8" {
		t.Errorf("get %s = %q (%s), want %q (text/plain; charset=utf-8)", key, got, ct, body)
	}

	// Presigned PUT executed with plain net/http, as a browser would.
	presign := awss3.NewPresignClient(c)
	pkey := "uploads/presigned.bin"
	pbody := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 0xff}
	const pct = "image/png"
	keys = append(keys, pkey)
	req, err := presign.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &pkey, ContentType: aws.String(pct)},
		awss3.WithPresignExpires(5*time.Minute))
	if err != nil {
		t.Fatalf("presign put: %v", err)
	}
	if req.Method != http.MethodPut {
		t.Fatalf("presigned method = %s, want PUT", req.Method)
	}
	put := func(rawURL string, header http.Header, b []byte) (int, string) {
		t.Helper()
		r, err := http.NewRequestWithContext(ctx, http.MethodPut, rawURL, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range header {
			if strings.EqualFold(k, "Host") {
				continue
			}
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		resp, err := httpClient.Do(r)
		if err != nil {
			t.Fatalf("presigned PUT: %v", err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(msg)
	}
	if code, msg := put(req.URL, req.SignedHeader, pbody); code != http.StatusOK {
		t.Fatalf("presigned PUT: status %d: %s", code, msg)
	}
	if got, ct := get(pkey); !bytes.Equal(got, pbody) || ct != pct {
		t.Errorf("get %s = %x (%s), want %x (%s)", pkey, got, ct, pbody, pct)
	}

	// A garbled signature is refused and leaves the object untouched.
	u, err := url.Parse(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	if sig == "" {
		t.Fatalf("presigned URL has no X-Amz-Signature: %s", req.URL)
	}
	flip := byte('0')
	if sig[0] == '0' {
		flip = '1'
	}
	q.Set("X-Amz-Signature", string(flip)+sig[1:])
	u.RawQuery = q.Encode()
	evil := []byte("overwritten")
	if code, msg := put(u.String(), req.SignedHeader, evil); code >= 200 && code < 300 {
		t.Errorf("PUT with garbled signature: status %d, want refusal: %s", code, msg)
	} else {
		t.Logf("garbled signature refused: %d", code)
	}

	// An expired presigned URL (signed an hour ago, valid for a minute) is refused.
	expired, err := presign.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &pkey, ContentType: aws.String(pct)},
		awss3.WithPresignExpires(time.Minute),
		func(o *awss3.PresignOptions) { o.Presigner = skewedPresigner{inner: v4.NewSigner(), skew: -time.Hour} })
	if err != nil {
		t.Fatalf("presign expired put: %v", err)
	}
	if code, msg := put(expired.URL, expired.SignedHeader, evil); code >= 200 && code < 300 {
		t.Errorf("PUT with expired URL: status %d, want refusal: %s", code, msg)
	} else {
		t.Logf("expired URL refused: %d", code)
	}
	if got, _ := get(pkey); !bytes.Equal(got, pbody) {
		t.Errorf("after refused PUTs, %s = %x, want %x", pkey, got, pbody)
	}
}

// ---------------------------------------------------------------------------
// SMTP (net/smtp to mailpit, checked through mailpit's HTTP API)

type mailpitAddr struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

type mailpitSummary struct {
	ID      string        `json:"ID"`
	From    mailpitAddr   `json:"From"`
	To      []mailpitAddr `json:"To"`
	Subject string        `json:"Subject"`
}

type mailpitMessage struct {
	mailpitSummary
	Text string `json:"Text"`
}

func TestSMTP(t *testing.T) {
	smtpAddr := testenv.Require(t, "EJAZZ_SMTP_ADDR")
	api := strings.TrimRight(testenv.Require(t, "EJAZZ_MAILPIT_URL"), "/")
	ctx := timeout(t, time.Minute)

	run := suffix(t)
	from := "noreply@ejazz.test"
	to := "smoke-" + run + "@ejazz.test"
	subject := "Ejazz smoke test " + run
	text := "Hello from the Ejazz smoke test.\nRun " + run + "."

	// net/smtp has no context: bound the connection with a deadline.
	conn, err := net.DialTimeout("tcp", smtpAddr, 5*time.Second)
	if err != nil {
		testenv.Unreachable(t, "smtp", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(smtpAddr)
	sc, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		t.Fatalf("smtp greeting: %v", err)
	}
	defer sc.Close()
	if err := sc.Hello("smoke.ejazz.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	if ok, _ := sc.Extension("8BITMIME"); !ok {
		t.Logf("server does not announce 8BITMIME")
	}
	if err := sc.Mail(from); err != nil {
		t.Fatalf("MAIL FROM: %v", err)
	}
	if err := sc.Rcpt(to); err != nil {
		t.Fatalf("RCPT TO: %v", err)
	}
	w, err := sc.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	msg := "From: Ejazz <" + from + ">\r\n" +
		"To: <" + to + ">\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + run + "@smoke.ejazz.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		strings.ReplaceAll(text, "\n", "\r\n") + "\r\n"
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatalf("write message: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("end DATA: %v", err)
	}
	if err := sc.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}

	httpClient := &http.Client{Timeout: 5 * time.Second}
	getJSON := func(path string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+path, nil)
		if err != nil {
			return err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}

	// Wait (bounded) until mailpit lists the message.
	var found *mailpitSummary
	var lastErr error
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Messages []mailpitSummary `json:"messages"`
		}
		lastErr = getJSON("/api/v1/messages?limit=200", &list)
		if lastErr == nil {
			for i := range list.Messages {
				if list.Messages[i].Subject == subject {
					found = &list.Messages[i]
					break
				}
			}
		}
		if found != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if found == nil {
		t.Fatalf("message %q did not appear in mailpit within 10s (last error: %v)", subject, lastErr)
	}
	t.Cleanup(func() {
		c, cancel := cleanupCtx()
		defer cancel()
		b, _ := json.Marshal(map[string][]string{"IDs": {found.ID}})
		req, err := http.NewRequestWithContext(c, http.MethodDelete, api+"/api/v1/messages", bytes.NewReader(b))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Errorf("delete mailpit message: %v", err)
			return
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("delete mailpit message: %s", resp.Status)
		}
	})

	var m mailpitMessage
	if err := getJSON("/api/v1/message/"+url.PathEscape(found.ID), &m); err != nil {
		t.Fatalf("get message: %v", err)
	}
	if m.From.Address != from || m.From.Name != "Ejazz" {
		t.Errorf("From = %+v, want Ejazz <%s>", m.From, from)
	}
	if len(m.To) != 1 || m.To[0].Address != to {
		t.Errorf("To = %+v, want [%s]", m.To, to)
	}
	if m.Subject != subject {
		t.Errorf("Subject = %q, want %q", m.Subject, subject)
	}
	gotText := strings.TrimRight(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n")
	if gotText != text {
		t.Errorf("Text = %q, want %q", gotText, text)
	}
}

// ---------------------------------------------------------------------------
// Temporal (go.temporal.io/sdk)

func smokeWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var greeting string
	if err := workflow.ExecuteActivity(ctx, smokeActivity, name).Get(ctx, &greeting); err != nil {
		return "", err
	}
	return greeting + "!", nil
}

func smokeActivity(ctx context.Context, name string) (string, error) {
	return "hello " + name + " from " + activity.GetInfo(ctx).TaskQueue, nil
}

func TestTemporal(t *testing.T) {
	addr := testenv.Require(t, "EJAZZ_TEMPORAL_ADDRESS")
	ctx := timeout(t, time.Minute)

	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(dialCtx, client.Options{
		HostPort:  addr,
		Namespace: "default",
		Logger:    tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	})
	if err != nil {
		testenv.Unreachable(t, "temporal", err)
	}
	t.Cleanup(c.Close)

	queue := "ejazz-smoke-" + suffix(t)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(smokeWorkflow)
	w.RegisterActivity(smokeActivity)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       queue + "-wf",
		TaskQueue:                queue,
		WorkflowExecutionTimeout: 30 * time.Second,
	}, smokeWorkflow, "ejazz")
	if err != nil {
		t.Fatalf("execute workflow: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	if want := "hello ejazz from " + queue + "!"; got != want {
		t.Errorf("result = %q, want %q", got, want)
	}
}

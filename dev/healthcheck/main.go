// Command healthcheck checks one local engine of dev/stack at the protocol level.
//
// Usage:
//
//	healthcheck [-timeout 3s] <postgres|clickhouse|cassandra|neo4j|s3|smtp|temporal>
//
// It reads the same EJAZZ_* variables that `dev/stack env` prints, makes one real
// request (SELECT 1, a CQL query, a Bolt RETURN 1, an S3 ListBuckets, an SMTP EHLO,
// a Temporal health check) bounded by the timeout, and exits 0 when the engine
// answered, or 1 with a one-line reason on stderr. dev/stack polls it until ready.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gocql/gocql"
	"github.com/jackc/pgx/v5"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

var checks = map[string]func(ctx context.Context, timeout time.Duration) error{
	"postgres":   checkPostgres,
	"clickhouse": checkClickHouse,
	"cassandra":  checkCassandra,
	"neo4j":      checkNeo4j,
	"s3":         checkS3,
	"smtp":       checkSMTP,
	"temporal":   checkTemporal,
}

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "bound for the whole check")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: healthcheck [-timeout 3s] <postgres|clickhouse|cassandra|neo4j|s3|smtp|temporal>")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	engine := flag.Arg(0)
	check, ok := checks[engine]
	if !ok {
		fmt.Fprintf(os.Stderr, "healthcheck: unknown engine %q\n", engine)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	// Some client libraries do not honour the context everywhere: enforce the bound.
	done := make(chan error, 1)
	go func() { done <- check(ctx, *timeout) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(*timeout + time.Second):
		err = fmt.Errorf("no answer within %s", *timeout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck %s: %s\n", engine, oneLine(err))
		os.Exit(1)
	}
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func env(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set (eval \"$(dev/stack env)\")", name)
	}
	return v, nil
}

func checkPostgres(ctx context.Context, _ time.Duration) error {
	dsn, err := env("EJAZZ_POSTGRES_DSN")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

func checkClickHouse(ctx context.Context, timeout time.Duration) error {
	addr, err := env("EJAZZ_CLICKHOUSE_ADDR")
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		DialTimeout: timeout,
		ReadTimeout: timeout,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	var one uint8
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

func checkCassandra(ctx context.Context, timeout time.Duration) error {
	hosts, err := env("EJAZZ_CASSANDRA_HOSTS")
	if err != nil {
		return err
	}
	cluster := gocql.NewCluster(strings.Split(hosts, ",")...)
	cluster.ConnectTimeout = timeout
	cluster.Timeout = timeout
	cluster.DisableInitialHostLookup = true
	cluster.NumConns = 1
	cluster.Consistency = gocql.One
	cluster.Logger = discardLogger{}
	session, err := cluster.CreateSession()
	if err != nil {
		return err
	}
	defer session.Close()
	var version string
	if err := session.Query("SELECT release_version FROM system.local").WithContext(ctx).Scan(&version); err != nil {
		return err
	}
	if version == "" {
		return errors.New("empty release_version")
	}
	return nil
}

type discardLogger struct{}

func (discardLogger) Print(...any)          {}
func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

func checkNeo4j(ctx context.Context, _ time.Duration) error {
	uri, err := env("EJAZZ_NEO4J_URI")
	if err != nil {
		return err
	}
	driver, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		return err
	}
	defer driver.Close(context.Background())
	res, err := neo4j.ExecuteQuery(ctx, driver, "RETURN 1 AS one", nil, neo4j.EagerResultTransformer)
	if err != nil {
		return err
	}
	if len(res.Records) != 1 {
		return fmt.Errorf("RETURN 1 gave %d records", len(res.Records))
	}
	if v, _ := res.Records[0].Get("one"); v != int64(1) {
		return fmt.Errorf("RETURN 1 gave %v", v)
	}
	return nil
}

func checkS3(ctx context.Context, timeout time.Duration) error {
	endpoint, err := env("EJAZZ_S3_ENDPOINT")
	if err != nil {
		return err
	}
	region, err := env("EJAZZ_S3_REGION")
	if err != nil {
		return err
	}
	key, err := env("EJAZZ_S3_ACCESS_KEY")
	if err != nil {
		return err
	}
	secret, err := env("EJAZZ_S3_SECRET_KEY")
	if err != nil {
		return err
	}
	cli := s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, Source: "EJAZZ_S3_*"}, nil
		}),
		HTTPClient:       &http.Client{Timeout: timeout},
		RetryMaxAttempts: 1,
	})
	_, err = cli.ListBuckets(ctx, &s3.ListBucketsInput{})
	return err
}

func checkSMTP(ctx context.Context, timeout time.Duration) error {
	addr, err := env("EJAZZ_SMTP_ADDR")
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("healthcheck.localhost"); err != nil {
		return err
	}
	if err := c.Noop(); err != nil { // sends EHLO first, then NOOP
		return fmt.Errorf("EHLO/NOOP: %w", err)
	}
	if err := c.Quit(); err != nil {
		return err
	}
	// The mailbox API the tests read (mailpit), when configured.
	if base := os.Getenv("EJAZZ_MAILPIT_URL"); base != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/info", nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Timeout: timeout}).Do(req)
		if err != nil {
			return fmt.Errorf("mailpit API: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("mailpit API: GET /api/v1/info: %s", resp.Status)
		}
	}
	return nil
}

func checkTemporal(ctx context.Context, _ time.Duration) error {
	addr, err := env("EJAZZ_TEMPORAL_ADDRESS")
	if err != nil {
		return err
	}
	c, err := client.DialContext(ctx, client.Options{
		HostPort: addr,
		Logger:   tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

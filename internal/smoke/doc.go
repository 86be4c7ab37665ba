// Package smoke holds one smoke test per engine that `dev/stack up` starts
// (PostgreSQL, Cassandra, Neo4j, ClickHouse, S3/versitygw, SMTP/mailpit,
// Temporal). Each test talks to its engine through the exact client library
// the product uses and does create → write → read back → assert, cleaning up
// after itself; names carry a random suffix so runs never collide.
//
// Addresses come from the EJAZZ_* variables printed by `dev/stack env`: a
// missing variable or an unreachable engine skips the test locally and fails
// it under CI=true (see internal/testenv).
package smoke

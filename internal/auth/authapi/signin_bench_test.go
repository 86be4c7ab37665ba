package authapi

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/internal/account"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storetest"
)

// BenchmarkSignIn measures SignIn on the embedded store with the production
// argon2id cost, reporting p50 and p99 latency.
func BenchmarkSignIn(b *testing.B) {
	ctx := context.Background()
	store := accountsqlite.New(storetest.SQLite(b))
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	hash, err := auth.HashPassword("correct horse battery", auth.DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	if err := store.Create(ctx, account.Account{ID: "u1", Email: "ana@example.com", Handle: "ana", PasswordHash: hash, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := store.MarkVerified(ctx, "u1", now); err != nil {
		b.Fatal(err)
	}
	s := &Service{
		Accounts: store, Argon2: auth.DefaultArgon2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tokens: &auth.Issuer{Keys: store, IssuerURL: "http://bench", Audience: "ejazz", AccessTTL: 15 * time.Minute, RotateEvery: 24 * time.Hour},
	}
	req := connect.NewRequest(&authv1.SignInRequest{Identifier: "ana", Password: "correct horse battery"})
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := s.SignIn(ctx, req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
)

// run executes the CLI in-process and returns its error.
func run(t *testing.T, env map[string]string, args ...string) error {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	root := newRoot()
	root.SetArgs(args)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if len(args) > 0 && args[0] != "admin" {
		cancel() // commands that would serve stop at once
	}
	return root.ExecuteContext(ctx)
}

func TestBadInputIsOneClearError(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badKey, []byte("temporal:\n  adress: x:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"dev", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{"unknown config key", nil, []string{"dev", "--config", badKey}, `unknown key "temporal.adress"`},
		{"bad env value", map[string]string{"EJAZZ_LOG_LEVEL": "loud"}, []string{"dev"}, "log.level"},
		{"unknown service", nil, []string{"serve", "chat"}, `unknown service "chat"`},
		{"no service", nil, []string{"serve"}, "name at least one service"},
		{"unknown queue", nil, []string{"worker", "ejazz-chat"}, `unknown task queue "ejazz-chat"`},
		{"scale without engines", map[string]string{"EJAZZ_PROFILE": "scale", "EJAZZ_POSTGRES_DSN": ""}, []string{"serve", "auth"}, "postgres.dsn"},
		{"dev on scale", map[string]string{"EJAZZ_PROFILE": "scale"}, []string{"dev"}, "embedded profile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("ejazz %v succeeded", tc.args)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("ejazz %v: error %q, want one line mentioning %q", tc.args, msg, tc.want)
			}
		})
	}
}

func TestGrantAndRevokeRole(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EJAZZ_DATA_DIR": dir, "EJAZZ_PROFILE": "embedded"}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load(nil, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stores, err := app.OpenStores(ctx, cfg, []string{account.Component})
	if err != nil {
		t.Fatal(err)
	}
	if err := stores.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stores.Accounts.Create(ctx, account.Account{ID: "u1", Email: "ana@example.com", Handle: "Ana", PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	stores.Close()

	roles := func() []string {
		s, err := app.OpenStores(ctx, cfg, []string{account.Component})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		r, err := s.Accounts.Roles(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := run(t, nil, "admin", "grant-role", "--handle", "@ana", "--role", "analyst"); err != nil {
		t.Fatalf("grant-role: %v", err)
	}
	if got := roles(); len(got) != 1 || got[0] != "analyst" {
		t.Fatalf("roles after grant = %v", got)
	}
	for _, args := range [][]string{
		{"admin", "grant-role", "--handle", "ana", "--role", "superuser"},
		{"admin", "grant-role", "--handle", "nobody", "--role", "admin"},
		{"admin", "grant-role", "--role", "admin"},
	} {
		if err := run(t, nil, args...); err == nil {
			t.Errorf("ejazz %v succeeded", args)
		}
	}
	if err := run(t, nil, "admin", "revoke-role", "--handle", "ana", "--role", "analyst"); err != nil {
		t.Fatalf("revoke-role: %v", err)
	}
	if got := roles(); len(got) != 0 {
		t.Fatalf("roles after revoke = %v", got)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	cancel() // commands that would serve stop at once
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

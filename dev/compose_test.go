// Package dev holds the developer tooling's tests: dev/temporal-compose.yaml
// cannot run without Docker, so this checks it stays complete and in step
// with the code.
package dev

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ejazz/ejazz/internal/config"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]any    `yaml:"depends_on"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck *struct {
			Test    []string `yaml:"test"`
			Disable bool     `yaml:"disable"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFileHasTheScaleProfile(t *testing.T) {
	raw, err := os.ReadFile("temporal-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("temporal-compose.yaml does not parse: %v", err)
	}
	required := []string{"temporal", "temporal-ui", "postgresql", "cassandra", "neo4j", "clickhouse", "s3", "mailpit", "ejazz-migrate", "ejazz-api", "ejazz-worker"}
	for _, name := range required {
		svc, ok := f.Services[name]
		if !ok {
			t.Errorf("service %s is missing", name)
			continue
		}
		switch {
		case name == "ejazz-migrate":
			if svc.Healthcheck == nil || !svc.Healthcheck.Disable {
				t.Errorf("%s runs once: its healthcheck should be disabled explicitly", name)
			}
		case svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0:
			t.Errorf("service %s has no healthcheck", name)
		}
		for dep := range svc.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := f.Volumes[src]; !ok {
					t.Errorf("%s uses volume %s that is not declared", name, src)
				}
			}
		}
	}
	for _, name := range []string{"postgresql", "cassandra", "neo4j", "clickhouse", "s3", "mailpit"} {
		if len(f.Services[name].Volumes) == 0 {
			t.Errorf("%s keeps no data on a named volume", name)
		}
	}

	// The Ejazz processes run the scale profile with a valid, complete config.
	commands := map[string]string{"ejazz-migrate": "migrate", "ejazz-api": "serve", "ejazz-worker": "worker"}
	for name, cmd := range commands {
		svc := f.Services[name]
		if len(svc.Command) == 0 || svc.Command[0] != cmd {
			t.Errorf("%s command = %v, want %s …", name, svc.Command, cmd)
		}
		var environ []string
		for k, v := range svc.Environment {
			environ = append(environ, k+"="+v)
		}
		sort.Strings(environ)
		cfg, err := config.Load(nil, environ)
		if err != nil {
			t.Errorf("%s environment is not a valid config: %v", name, err)
			continue
		}
		if cfg.Profile != config.ProfileScale {
			t.Errorf("%s profile = %q", name, cfg.Profile)
		}
		if err := cfg.RequireScale("postgres.dsn", "cassandra.hosts", "neo4j.uri", "clickhouse.addr", "s3.endpoint", "s3.access_key", "s3.secret_key", "smtp.addr", "temporal.address"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		host := strings.Split(cfg.Temporal.Address, ":")[0]
		if !slices.Contains(required, host) {
			t.Errorf("%s temporal.address %s is not a compose service", name, cfg.Temporal.Address)
		}
	}
}

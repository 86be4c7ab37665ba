// Package storage holds what every store adapter shares, whatever its domain
// and engine: the lifecycle every adapter implements (Store), the sentinel
// errors ports document, and versioned schema migrations.
//
// Domain packages own their ports (interfaces embedding Store); engine
// packages under internal/engine provide connections and a Migrator; adapters
// under internal/<domain>/<engine> join the two.
package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Sentinel errors that ports document and adapters return (wrapped).
var (
	// ErrNotFound: the entity does not exist (or the caller may not know it does).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a concurrent change won; the caller may retry.
	ErrConflict = errors.New("conflict")
)

// Store is the lifecycle of every store adapter.
type Store interface {
	// Name identifies the adapter in logs and probes, e.g. "graph/neo4j".
	Name() string
	// Ping checks that the engine answers a real query.
	Ping(ctx context.Context) error
	// Migrate applies the adapter's pending schema migrations; it is
	// idempotent and safe to run from several processes at once.
	Migrate(ctx context.Context) error
	// Close releases the adapter's resources (not a shared connection's).
	Close() error
}

// Migration is one versioned schema change of one component (a store).
type Migration struct {
	// Version orders migrations within a component; it never changes once released.
	Version int
	// Name says what the migration does.
	Name string
	// Statements run in order; each must be safe to re-run when the engine
	// has no transactional DDL (use IF NOT EXISTS).
	Statements []string
}

// Migrator is an engine's way to record and apply migrations.
type Migrator interface {
	// Lock serializes migrations across processes where the engine can
	// (returning an unlock func); engines without locks rely on idempotent statements.
	Lock(ctx context.Context) (unlock func(), err error)
	// Applied returns the versions of component already applied.
	Applied(ctx context.Context, component string) (map[int]bool, error)
	// Apply runs m's statements and records it as applied.
	Apply(ctx context.Context, component string, m Migration) error
}

// Migrate applies the migrations of component that mg has not applied yet, in
// version order. It returns the versions it applied.
func Migrate(ctx context.Context, mg Migrator, component string, ms []Migration) ([]int, error) {
	sorted := append([]Migration(nil), ms...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Version < sorted[j].Version })
	for i, m := range sorted {
		if m.Version <= 0 || (i > 0 && m.Version == sorted[i-1].Version) {
			return nil, fmt.Errorf("migrate %s: invalid or duplicate version %d", component, m.Version)
		}
	}
	unlock, err := mg.Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: lock: %w", component, err)
	}
	defer unlock()
	applied, err := mg.Applied(ctx, component)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", component, err)
	}
	var done []int
	for _, m := range sorted {
		if applied[m.Version] {
			continue
		}
		if err := mg.Apply(ctx, component, m); err != nil {
			return done, fmt.Errorf("migrate %s v%d (%s): %w", component, m.Version, m.Name, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}

// ValidIdentifier reports whether s is a plain identifier (ASCII letters,
// digits, underscore; not starting with a digit), safe to splice into DDL
// where engines cannot bind names (keyspaces, databases).
func ValidIdentifier(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

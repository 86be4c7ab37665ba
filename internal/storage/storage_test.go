package storage

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

type memMigrator struct {
	applied map[string]map[int]bool
	ran     []string
	failOn  int
}

func (m *memMigrator) Lock(context.Context) (func(), error) { return func() {}, nil }
func (m *memMigrator) Applied(_ context.Context, c string) (map[int]bool, error) {
	out := map[int]bool{}
	for v := range m.applied[c] {
		out[v] = true
	}
	return out, nil
}
func (m *memMigrator) Apply(_ context.Context, c string, mg Migration) error {
	if mg.Version == m.failOn {
		return errors.New("boom")
	}
	if m.applied[c] == nil {
		m.applied[c] = map[int]bool{}
	}
	m.applied[c][mg.Version] = true
	m.ran = append(m.ran, mg.Statements...)
	return nil
}

func TestMigrateOrderAndIdempotence(t *testing.T) {
	ctx := context.Background()
	m := &memMigrator{applied: map[string]map[int]bool{}}
	ms := []Migration{{Version: 2, Name: "b", Statements: []string{"s2"}}, {Version: 1, Name: "a", Statements: []string{"s1"}}}
	got, err := Migrate(ctx, m, "x", ms)
	if err != nil || !reflect.DeepEqual(got, []int{1, 2}) || !reflect.DeepEqual(m.ran, []string{"s1", "s2"}) {
		t.Fatalf("first run: applied %v ran %v err %v", got, m.ran, err)
	}
	got, err = Migrate(ctx, m, "x", ms)
	if err != nil || len(got) != 0 || len(m.ran) != 2 {
		t.Fatalf("second run applied %v (ran %v) err %v, want nothing", got, m.ran, err)
	}
	// Another component is tracked separately.
	if got, _ := Migrate(ctx, m, "y", ms[:1]); !reflect.DeepEqual(got, []int{2}) {
		t.Fatalf("component y applied %v", got)
	}
}

func TestMigrateRejectsBadVersionsAndStopsOnError(t *testing.T) {
	ctx := context.Background()
	m := &memMigrator{applied: map[string]map[int]bool{}, failOn: 2}
	if _, err := Migrate(ctx, m, "x", []Migration{{Version: 1}, {Version: 1}}); err == nil {
		t.Fatal("duplicate versions accepted")
	}
	if _, err := Migrate(ctx, m, "x", []Migration{{Version: 0}}); err == nil {
		t.Fatal("version 0 accepted")
	}
	got, err := Migrate(ctx, m, "x", []Migration{{Version: 1}, {Version: 2}, {Version: 3}})
	if err == nil || !reflect.DeepEqual(got, []int{1}) || m.applied["x"][3] {
		t.Fatalf("applied %v err %v; want stop after v1", got, err)
	}
}

package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	var v string
	for range 3 {
		if err := db.QueryRowContext(ctx, "SELECT v FROM t WHERE id = ?", 2).Scan(&v); err != nil || v != "b" {
			t.Fatalf("cached QueryRow = %q, %v", v, err)
		}
	}
	if n := len(db.cache.stmts); n != 1 {
		t.Fatalf("%d cached statements, want 1", n)
	}
	// A schema change after a statement was prepared: SQLite re-prepares it.
	if _, err := db.ExecContext(ctx, "ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'z'"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	_ = rows.Close()
	if len(cols) != 3 {
		t.Fatalf("columns after ALTER = %v", cols)
	}
	// Past the cap, queries still run (uncached).
	for i := range maxCachedStmts + 10 {
		var got int
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&got); err != nil || got != i {
			t.Fatalf("SELECT %d = %d, %v", i, got, err)
		}
	}
	if n := len(db.cache.stmts); n != maxCachedStmts {
		t.Fatalf("%d cached statements, want the cap %d", n, maxCachedStmts)
	}
	// A bad query errors as it would uncached, and is not cached.
	if err := db.QueryRowContext(ctx, "SELECT nope FROM t").Scan(&v); err == nil {
		t.Fatal("a bad query succeeded")
	}
	if _, err := db.QueryContext(ctx, "SELECT nope FROM t"); err == nil {
		t.Fatal("a bad query succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(db.cache.stmts) != 0 {
		t.Fatal("statements left open after Close")
	}
}

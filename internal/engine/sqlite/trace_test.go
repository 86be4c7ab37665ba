package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestStoreCallsAreSpans: queries and write transactions inside a trace
// are child spans of the caller's span; outside a trace they record nothing.
func TestStoreCallsAreSpans(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "rpc")
	if err := db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(context.Background(), "SELECT id FROM t") // no trace
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	parent.End()
	got := map[string]bool{}
	for _, s := range exp.GetSpans() {
		if s.Name == "rpc" {
			continue
		}
		if s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s is not a child of the caller's span", s.Name)
		}
		got[s.Name] = true
	}
	if len(got) != 2 || !got["sqlite.write"] || !got["sqlite.query"] || len(exp.GetSpans()) != 3 {
		t.Errorf("spans = %v (%d in all), want sqlite.write and sqlite.query under rpc", got, len(exp.GetSpans()))
	}
}

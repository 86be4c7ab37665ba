package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ejazz/ejazz/internal/telemetry"
)

// inMemory sets up telemetry exporting synchronously to a fresh in-memory exporter.
func inMemory(t *testing.T) (*telemetry.Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, exp
}

func TestSetup(t *testing.T) {
	tests := []struct {
		name    string
		o       telemetry.Options
		wantErr string
	}{
		{name: "default is none", o: telemetry.Options{}},
		{name: "none", o: telemetry.Options{Exporter: "none", SampleRatio: 0.5}},
		{name: "otlp", o: telemetry.Options{Exporter: "otlp", Endpoint: "127.0.0.1:4317", Insecure: true}},
		{name: "stdout", o: telemetry.Options{Exporter: "stdout"}},
		{name: "unknown exporter", o: telemetry.Options{Exporter: "zipkin"}, wantErr: `exporter "zipkin"`},
		{name: "ratio above 1", o: telemetry.Options{SampleRatio: 1.5}, wantErr: "sample ratio"},
		{name: "negative ratio", o: telemetry.Options{SampleRatio: -0.1}, wantErr: "sample ratio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel, err := telemetry.Setup(context.Background(), tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Setup error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Even without export, spans get real ids so logs can carry them.
			_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "op")
			span.End()
			if !span.SpanContext().IsValid() {
				t.Error("span has no valid trace/span id")
			}
			// Nothing was exported (stdout) or the collector is absent (otlp);
			// Shutdown must not block past its context either way.
			ctx, cancel := context.WithTimeout(context.Background(), 0)
			defer cancel()
			_ = tel.Shutdown(ctx)
		})
	}
}

func TestSetupInstallsW3CPropagator(t *testing.T) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	inMemory(t)
	fields := otel.GetTextMapPropagator().Fields()
	for _, want := range []string{"traceparent", "baggage"} {
		if !strings.Contains(strings.Join(fields, ","), want) {
			t.Errorf("global propagator fields %v lack %q", fields, want)
		}
	}
}

func TestSetupResource(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceName: "ejazz-api", SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "op")
	span.End()
	got := exp.GetSpans()
	if len(got) != 1 {
		t.Fatalf("exported %d spans, want 1", len(got))
	}
	if v, _ := got[0].Resource.Set().Value("service.name"); v.AsString() != "ejazz-api" {
		t.Errorf("service.name = %q, want ejazz-api", v.AsString())
	}
}

func TestLogHandler(t *testing.T) {
	tel, _ := inMemory(t)
	ctx, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()

	tests := []struct {
		name      string
		log       func(l *slog.Logger)
		wantTrace bool
	}{
		{"InfoContext with span", func(l *slog.Logger) { l.InfoContext(ctx, "m") }, true},
		{"ErrorContext with span", func(l *slog.Logger) { l.ErrorContext(ctx, "m") }, true},
		{"Log with span", func(l *slog.Logger) { l.Log(ctx, slog.LevelWarn, "m") }, true},
		{"derived logger keeps it", func(l *slog.Logger) { l.With("k", "v").InfoContext(ctx, "m") }, true},
		{"no context", func(l *slog.Logger) { l.Info("m") }, false},
		{"context without span", func(l *slog.Logger) { l.InfoContext(context.Background(), "m") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))))
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("log %q: %v", buf.String(), err)
			}
			if !tt.wantTrace {
				if _, ok := rec[telemetry.TraceIDKey]; ok {
					t.Errorf("record %v has a trace_id", rec)
				}
				return
			}
			if rec[telemetry.TraceIDKey] != sc.TraceID().String() || rec[telemetry.SpanIDKey] != sc.SpanID().String() {
				t.Errorf("record %v, want trace_id %s span_id %s", rec, sc.TraceID(), sc.SpanID())
			}
		})
	}
}

func TestLogHandlerRespectsLevel(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	l.InfoContext(context.Background(), "dropped")
	if buf.Len() != 0 {
		t.Errorf("info record written at warn level: %q", buf.String())
	}
}

func TestSpan(t *testing.T) {
	tel, exp := inMemory(t)
	ctx, parent := tel.TracerProvider().Tracer("test").Start(context.Background(), "rpc")

	func() (err error) {
		_, end := telemetry.Span(ctx, "store.posts.Get", attribute.String("db.system", "sqlite"))
		defer end(&err)
		return errors.New("no such post")
	}()
	func() (err error) {
		_, end := telemetry.Span(ctx, "store.posts.List")
		defer end(&err)
		return nil
	}()
	_, end := telemetry.Span(ctx, "store.nil-errp")
	end(nil)
	parent.End()

	byName := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byName[s.Name] = s
	}
	for _, name := range []string{"store.posts.Get", "store.posts.List", "store.nil-errp"} {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("span %s not exported; have %v", name, byName)
		}
		if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("%s parent = %v, want the rpc span %v", name, s.Parent.SpanID(), parent.SpanContext().SpanID())
		}
		if s.SpanKind != trace.SpanKindInternal {
			t.Errorf("%s kind = %v, want internal", name, s.SpanKind)
		}
	}
	if got := byName["store.posts.Get"]; got.Status.Code != codes.Error || got.Status.Description != "no such post" || len(got.Events) != 1 {
		t.Errorf("failed call: status %+v, %d events; want error status and one exception event", got.Status, len(got.Events))
	}
	if got := byName["store.posts.Get"].Attributes; len(got) != 1 || got[0] != attribute.String("db.system", "sqlite") {
		t.Errorf("attributes = %v, want db.system=sqlite", got)
	}
	if got := byName["store.posts.List"]; got.Status.Code != codes.Unset {
		t.Errorf("successful call: status %+v, want unset", got.Status)
	}
}

func TestSpanWithoutTraceRecordsNothing(t *testing.T) {
	_, exp := inMemory(t)
	ctx, end := telemetry.Span(context.Background(), "store.posts.Get")
	if trace.SpanFromContext(ctx).SpanContext().IsValid() {
		t.Error("Span outside a trace started a span")
	}
	err := errors.New("boom")
	end(&err)
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("exported %d spans, want 0", n)
	}
}

func TestInterceptorsRejectNilProvider(t *testing.T) {
	if _, err := telemetry.ConnectInterceptor(nil); err == nil {
		t.Error("ConnectInterceptor(nil) succeeded")
	}
	if _, err := telemetry.TemporalInterceptor(nil); err == nil {
		t.Error("TemporalInterceptor(nil) succeeded")
	}
	if _, err := telemetry.TemporalMetrics(nil); err == nil {
		t.Error("TemporalMetrics(nil) succeeded")
	}
}

package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span starts an internal span named name as a child of the span in ctx and
// returns the context carrying it and a function that ends it, recording
// *errp (when errp and *errp are non-nil) as the span's error. It uses the
// tracer provider of the span already in ctx, so inside a traced RPC or
// activity it needs no wiring, and outside any trace it costs nothing and
// records nothing.
//
//	func (s *Store) Get(ctx context.Context, id string) (_ *post.Post, err error) {
//		ctx, end := telemetry.Span(ctx, "store.posts.Get", attribute.String("db.system", "postgresql"))
//		defer end(&err)
//		...
//	}
func Span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(errp *error)) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, func(*error) {}
	}
	ctx, span := parent.TracerProvider().Tracer(instrumentationName).Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	return ctx, func(errp *error) {
		if errp != nil && *errp != nil {
			span.RecordError(*errp)
			span.SetStatus(codes.Error, (*errp).Error())
		}
		span.End()
	}
}

// SpanAt records a finished span named name, from start to end, as a child
// of the span in ctx (nothing outside a trace): for drivers that report a
// call after the fact (gocql's QueryObserver).
func SpanAt(ctx context.Context, name string, start, end time.Time, err error, attrs ...attribute.KeyValue) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return
	}
	_, span := parent.TracerProvider().Tracer(instrumentationName).Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(end))
}

// Statement is the db.statement attribute of a store call, cut to a
// bounded length (queries carry no values: they are parameterised).
func Statement(system, query string) []attribute.KeyValue {
	if len(query) > 300 {
		query = query[:300]
	}
	return []attribute.KeyValue{attribute.String("db.system", system), attribute.String("db.statement", query)}
}

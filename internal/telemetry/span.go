package telemetry

import (
	"context"

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

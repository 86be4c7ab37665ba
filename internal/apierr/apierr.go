// Package apierr builds the Connect errors that every service handler
// shares: invalid_argument naming a field, and unavailable for a failing
// store or engine — logged in full on the server, told to the client without
// internals.
package apierr

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/ejazz/ejazz/internal/auth"
)

// Invalid is invalid_argument naming field.
func Invalid(field, reason string) error {
	return connect.NewError(connect.CodeInvalidArgument, &auth.FieldError{Field: field, Reason: reason})
}

// Unavailable logs err (what failed) and answers unavailable with a message
// safe for clients; a request whose context ended answers deadline_exceeded.
func Unavailable(ctx context.Context, log *slog.Logger, what string, err error) error {
	if ctx.Err() != nil {
		return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	if log == nil {
		log = slog.Default()
	}
	log.ErrorContext(ctx, what, "err", err)
	return connect.NewError(connect.CodeUnavailable, errors.New("the service is temporarily unavailable; retry"))
}

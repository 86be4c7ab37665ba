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

// List paging, the same for every service: page_size 0 means DefaultPageSize,
// larger than MaxPageSize is lowered to it; page_token is opaque and at most
// MaxPageTokenLen bytes.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	MaxPageTokenLen = 4096
)

// PageSize validates a list request's page_size and page_token and returns
// the number of items to fetch.
func PageSize(size int32, token string) (int, error) {
	switch {
	case size < 0:
		return 0, Invalid("page_size", "must not be negative")
	case len(token) > MaxPageTokenLen:
		return 0, Invalid("page_token", "is invalid")
	case size == 0:
		return DefaultPageSize, nil
	case size > MaxPageSize:
		return MaxPageSize, nil
	}
	return int(size), nil
}

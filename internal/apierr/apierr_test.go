package apierr

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestUnavailableHidesInternalsAndLogsThem(t *testing.T) {
	var buf bytes.Buffer
	err := Unavailable(context.Background(), slog.New(slog.NewTextHandler(&buf, nil)), "get post", errors.New("disk /var/lib/x full"))
	if connect.CodeOf(err) != connect.CodeUnavailable || strings.Contains(err.Error(), "disk") {
		t.Errorf("client error = %v", err)
	}
	if !strings.Contains(buf.String(), "disk /var/lib/x full") {
		t.Errorf("log = %q, want the cause", buf.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Unavailable(ctx, nil, "x", errors.New("y")); connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Errorf("ended request = %v, want deadline_exceeded", err)
	}
	if err := Invalid("text", "is required"); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "text: is required") {
		t.Errorf("Invalid = %v", err)
	}
}

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

func TestPageSize(t *testing.T) {
	for _, tc := range []struct {
		size  int32
		token string
		want  int
		field string
	}{
		{0, "", DefaultPageSize, ""},
		{7, "", 7, ""},
		{500, "", MaxPageSize, ""},
		{-1, "", 0, "page_size"},
		{10, strings.Repeat("x", MaxPageTokenLen+1), 0, "page_token"},
	} {
		got, err := PageSize(tc.size, tc.token)
		if tc.field != "" {
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("PageSize(%d, %d-byte token) = %d, %v; want invalid_argument naming %s", tc.size, len(tc.token), got, err, tc.field)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("PageSize(%d) = %d, %v; want %d", tc.size, got, err, tc.want)
		}
	}
}

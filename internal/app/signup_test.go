package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/internal/storetest"
)

// mailReader returns the text of the newest mail to an address, waiting briefly for it.
type mailReader func(t *testing.T, to string) string

var codeRE = regexp.MustCompile(`VerifyEmail with this code:\s+(\S+)`)

// signUpFlow drives registration through the public API: validation,
// sign-up, the verification mail, verification, single use of the token,
// double submit and taken fields.
func signUpFlow(t *testing.T, base string, readMail mailReader) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base, connect.WithProtoJSON())
	handle := storetest.UniqueName("u")
	email := handle + "@Example.com"
	signUp := func(email, handle, password string) (*authv1.SignUpResponse, error) {
		res, err := c.SignUp(ctx, connect.NewRequest(&authv1.SignUpRequest{Email: email, Handle: handle, Password: password, DisplayName: "Ana Test"}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}

	// Bad input names the field.
	for _, tc := range []struct{ email, handle, password, field string }{
		{"not-an-email", handle, "correct horse battery", "email"},
		{email, "no", "correct horse battery", "handle"},
		{email, "admin", "correct horse battery", "handle"},
		{email, handle, "short", "password"},
		{email, handle, "password123", "password"},
	} {
		_, err := signUp(tc.email, tc.handle, tc.password)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("SignUp(%q, %q, %q) = %v, want invalid_argument naming %s", tc.email, tc.handle, tc.password, err, tc.field)
		}
	}

	first, err := signUp(email, handle, "correct horse battery")
	if err != nil || first.GetUserId() == "" {
		t.Fatalf("SignUp = %v, %v", first, err)
	}
	// A double submit (same normalized email) returns the same user.
	again, err := signUp(strings.ToUpper(email), handle, "correct horse battery")
	if err != nil || again.GetUserId() != first.GetUserId() {
		t.Fatalf("double submit = %v, %v; want user %s", again, err, first.GetUserId())
	}
	// The handle is taken for another email (case-insensitively).
	if _, err := signUp("other."+email, strings.ToUpper(handle), "correct horse battery"); connect.CodeOf(err) != connect.CodeAlreadyExists || !strings.Contains(err.Error(), "handle") {
		t.Fatalf("taken handle = %v, want already_exists naming handle", err)
	}

	text := readMail(t, strings.ToLower(email))
	m := codeRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in the verification mail:\n%s", text)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: m[1] + "x"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("VerifyEmail with a wrong token = %v, want failed_precondition", err)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: m[1]})); err != nil {
		t.Fatalf("VerifyEmail = %v", err)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: m[1]})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("VerifyEmail with a used token = %v, want failed_precondition", err)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("VerifyEmail without a token = %v, want invalid_argument", err)
	}
	// After verification the registration is over: the email stays taken.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := signUp(email, handle+"2", "correct horse battery")
		if connect.CodeOf(err) == connect.CodeAlreadyExists && strings.Contains(err.Error(), "email") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sign-up with a verified email = %v, want already_exists naming email", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// devMail reads the embedded profile's dev mailbox.
func devMail(base string) mailReader {
	return func(t *testing.T, to string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var mails []struct {
				To      []string `json:"to"`
				Subject string   `json:"subject"`
				Text    string   `json:"text"`
			}
			getJSON(t, base+"/dev/mail.json", &mails)
			for _, m := range mails {
				if len(m.To) == 1 && m.To[0] == to {
					return m.Text
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no mail to %s in the dev mailbox", to)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// mailpit reads the dev/stack SMTP server's inbox over its HTTP API.
func mailpit(api string) mailReader {
	return func(t *testing.T, to string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var found struct {
				Messages []struct {
					ID string `json:"ID"`
				} `json:"messages"`
			}
			getJSON(t, api+"/api/v1/search?query="+url.QueryEscape(fmt.Sprintf("to:%q", to)), &found)
			if len(found.Messages) > 0 {
				var msg struct {
					Text string `json:"Text"`
				}
				getJSON(t, api+"/api/v1/message/"+found.Messages[0].ID, &msg)
				return msg.Text
			}
			if time.Now().After(deadline) {
				t.Fatalf("no mail to %s in mailpit", to)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// Package mailtest holds the conformance suite every adapter of the mail port
// must pass.
package mailtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	netmail "net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/mail"
)

// MailerSuite is the conformance suite of the mail port. open returns a
// fresh mailer (the suite migrates and closes it); inbox returns the message
// that open's mailers delivered with the given subject (the suite makes every
// subject unique), waiting a bounded time for it to arrive, or the zero Sent
// when none did (it must not fail the test for that: the suite uses it to
// check that invalid messages are not delivered).
//
// The suite checks the lifecycle (Name "mail/<adapter>", Migrate twice, Ping,
// Close), that what arrives is what was sent (recipients as bare addresses,
// non-ASCII subject and body, dot-only and long lines, an HTML alternative,
// a long subject), and that invalid messages fail with mail.ErrInvalidMessage
// and are not delivered. Bodies are compared with CRLF read as LF and
// trailing line breaks ignored. Subtests run in parallel.
func MailerSuite(t *testing.T, open func(t *testing.T) mail.Mailer, inbox func(t *testing.T, subject string) mail.Sent) {
	opened := func(t *testing.T) mail.Mailer {
		m := open(t)
		if err := m.Migrate(ctx(t)); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}

	t.Run("lifecycle", func(t *testing.T) {
		t.Parallel()
		m := open(t)
		c := ctx(t)
		if !strings.HasPrefix(m.Name(), mail.Component+"/") {
			t.Errorf("Name() = %q, want %q/<adapter>", m.Name(), mail.Component)
		}
		if err := m.Migrate(c); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if err := m.Migrate(c); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := m.Ping(c); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})

	t.Run("plain text", func(t *testing.T) {
		t.Parallel()
		m := opened(t)
		msg := mail.Message{
			To:      []string{"Ana Grüße <ana@example.test>", "bob@example.test"},
			Subject: "Grüße ✓ " + unique(),
			Text: "Hallo Ana, Grüße ✓\n\n" +
				".\n" + // a lone dot ends SMTP DATA unless stuffed
				"..two dots\n" +
				"From the start of a line\n" +
				strings.Repeat("long line äöü ✓ ", 20) + "end\n" +
				"https://ejazz.example/verify?token=abc123&x=y\n",
		}
		start := time.Now()
		if err := m.Send(ctx(t), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := delivered(t, inbox, msg.Subject)
		checkSent(t, got, msg, []string{"ana@example.test", "bob@example.test"}, start)
	})

	t.Run("html alternative", func(t *testing.T) {
		t.Parallel()
		m := opened(t)
		msg := mail.Message{
			To:      []string{"carol@example.test"},
			Subject: "HTML " + unique(),
			Text:    "Grüße ✓ in plain text",
			HTML:    "<p>Grüße <b>✓</b> in <i>HTML</i></p>",
		}
		start := time.Now()
		if err := m.Send(ctx(t), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := delivered(t, inbox, msg.Subject)
		checkSent(t, got, msg, []string{"carol@example.test"}, start)
	})

	t.Run("long subject", func(t *testing.T) {
		t.Parallel()
		m := opened(t)
		msg := mail.Message{
			To:      []string{"dave@example.test"},
			Subject: "Long " + unique() + " " + strings.Repeat("Grüße ✓ und viele Wörter ", 8) + "Ende",
			Text:    "body",
		}
		start := time.Now()
		if err := m.Send(ctx(t), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := delivered(t, inbox, msg.Subject)
		checkSent(t, got, msg, []string{"dave@example.test"}, start)
	})

	t.Run("invalid messages", func(t *testing.T) {
		t.Parallel()
		m := opened(t)
		subject := "Invalid " + unique()
		for _, tc := range []struct {
			name string
			msg  mail.Message
		}{
			{"no recipient", mail.Message{Subject: subject, Text: "x"}},
			{"empty recipient list", mail.Message{To: []string{}, Subject: subject, Text: "x"}},
			{"invalid address", mail.Message{To: []string{"not an address"}, Subject: subject, Text: "x"}},
			{"one invalid address among valid ones", mail.Message{To: []string{"ok@example.test", "@example.test"}, Subject: subject, Text: "x"}},
			{"CRLF in subject", mail.Message{To: []string{"ok@example.test"}, Subject: subject + "\r\nBcc: evil@example.test", Text: "x"}},
			{"LF in subject", mail.Message{To: []string{"ok@example.test"}, Subject: subject + "\nBcc: evil@example.test", Text: "x"}},
			{"CRLF in address", mail.Message{To: []string{"ok@example.test\r\nBcc: evil@example.test"}, Subject: subject, Text: "x"}},
			{"CR in address", mail.Message{To: []string{"Ok\r <ok@example.test>"}, Subject: subject, Text: "x"}},
		} {
			if err := m.Send(ctx(t), tc.msg); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("%s: Send = %v, want ErrInvalidMessage", tc.name, err)
			}
			if err := tc.msg.Validate(); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("%s: Validate = %v, want ErrInvalidMessage", tc.name, err)
			}
		}
		if got := inbox(t, subject); got.ID != "" || got.Subject != "" {
			t.Errorf("an invalid message was delivered: %+v", got)
		}
	})
}

func delivered(t *testing.T, inbox func(*testing.T, string) mail.Sent, subject string) mail.Sent {
	t.Helper()
	got := inbox(t, subject)
	if got.ID == "" && got.Subject == "" {
		t.Fatalf("message %q was not delivered", subject)
	}
	return got
}

func checkSent(t *testing.T, got mail.Sent, msg mail.Message, to []string, start time.Time) {
	t.Helper()
	if got.ID == "" {
		t.Errorf("Sent.ID is empty")
	}
	if got.Subject != msg.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, msg.Subject)
	}
	if g, w := body(got.Text), body(msg.Text); g != w {
		t.Errorf("Text = %q, want %q", g, w)
	}
	gotTo := slices.Sorted(slices.Values(got.To))
	if !slices.Equal(gotTo, to) {
		t.Errorf("To = %q, want %q", got.To, to)
	}
	if a, err := netmail.ParseAddress(got.From); err != nil || a.Address != got.From {
		t.Errorf("From = %q, want a bare address (%v)", got.From, err)
	}
	if got.At.Before(start.Add(-time.Minute)) || got.At.After(time.Now().Add(time.Minute)) {
		t.Errorf("At = %v, want about %v", got.At, start)
	}
}

// body normalizes line breaks for comparison.
func body(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

func unique() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

package devbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/mail/devbox"
	"github.com/ejazz/ejazz/internal/mail/mailtest"
)

const from = "Ejazz <noreply@ejazz.test>"

func openDB(t *testing.T) *engine.DB {
	t.Helper()
	db, err := engine.Open(filepath.Join(t.TempDir(), "mail.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestConformance(t *testing.T) {
	// One file shared by the suite's mailers so inbox sees what they stored.
	db := openDB(t)
	box := devbox.New(db, from)
	if err := box.Migrate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	mailtest.MailerSuite(t,
		func(t *testing.T) mail.Mailer { return devbox.New(db, from) },
		func(t *testing.T, subject string) mail.Sent {
			list, err := box.List(ctx(t), devbox.MaxLimit)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			for _, s := range list {
				if s.Subject == subject {
					return s
				}
			}
			return mail.Sent{}
		})
}

func newBox(t *testing.T) *devbox.Box {
	t.Helper()
	box := devbox.New(openDB(t), from)
	if err := box.Migrate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return box
}

func send(t *testing.T, box *devbox.Box, m mail.Message) {
	t.Helper()
	if err := box.Send(ctx(t), m); err != nil {
		t.Fatalf("Send(%q): %v", m.Subject, err)
	}
}

func TestListNewestFirstAndLimit(t *testing.T) {
	box := newBox(t)
	if list, err := box.List(ctx(t), 0); err != nil || len(list) != 0 {
		t.Fatalf("empty List = %v, %v", list, err)
	}
	for _, s := range []string{"one", "two", "three"} {
		send(t, box, mail.Message{To: []string{"a@example.test"}, Subject: s, Text: s})
	}
	list, err := box.List(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, s := range list {
		subjects = append(subjects, s.Subject)
	}
	if strings.Join(subjects, ",") != "three,two,one" {
		t.Fatalf("List subjects = %v, want newest first", subjects)
	}
	if list[0].From != "noreply@ejazz.test" {
		t.Errorf("From = %q, want the bare sender address", list[0].From)
	}
	if list, err := box.List(ctx(t), 2); err != nil || len(list) != 2 || list[0].Subject != "three" {
		t.Fatalf("List(2) = %+v, %v", list, err)
	}
}

func get(t *testing.T, h http.Handler, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Result()
}

func TestHandlerJSON(t *testing.T) {
	box := newBox(t)
	h := box.Handler()

	// No mail yet: an empty array, not null.
	res := get(t, h, "/dev/mail.json")
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("empty mailbox: %d %s", res.StatusCode, b)
	}

	send(t, box, mail.Message{To: []string{"ana@example.test"}, Subject: "first", Text: "1"})
	send(t, box, mail.Message{To: []string{"Bob <bob@example.test>", "carol@example.test"}, Subject: "Grüße ✓", Text: "Hallo ✓\nzweite Zeile"})

	res = get(t, h, "/dev/mail.json")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	// Decode generically: the field names and types are the contract.
	var raw []map[string]any
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 {
		t.Fatalf("got %d mails, want 2", len(raw))
	}
	m := raw[0]
	for _, k := range []string{"id", "from", "to", "subject", "text", "at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("mail object lacks %q: %v", k, m)
		}
	}
	if len(m) != 6 {
		t.Errorf("mail object has fields %v, want exactly id, from, to, subject, text, at", m)
	}
	if m["subject"] != "Grüße ✓" || m["text"] != "Hallo ✓\nzweite Zeile" || m["from"] != "noreply@ejazz.test" {
		t.Errorf("newest mail = %v", m)
	}
	to, ok := m["to"].([]any)
	if !ok || len(to) != 2 || to[0] != "bob@example.test" || to[1] != "carol@example.test" {
		t.Errorf("to = %#v, want an array of the bare addresses", m["to"])
	}
	if id, _ := m["id"].(string); id == "" {
		t.Errorf("id = %#v, want a non-empty string", m["id"])
	}
	if at, _ := m["at"].(string); at == "" {
		t.Errorf("at = %#v, want a timestamp", m["at"])
	} else if ts, err := time.Parse(time.RFC3339Nano, at); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("at = %q (%v), want a recent RFC 3339 time", at, err)
	}
	if raw[1]["subject"] != "first" {
		t.Errorf("second mail = %v, want the older one", raw[1])
	}

	if res := get(t, h, "/dev/mail.json?limit=1"); res.StatusCode != http.StatusOK {
		t.Errorf("limit=1: status %d", res.StatusCode)
	} else if err := json.NewDecoder(res.Body).Decode(&raw); err != nil || len(raw) != 1 {
		t.Errorf("limit=1: %d mails, %v", len(raw), err)
	}
	if res := get(t, h, "/dev/mail.json?limit=x"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("limit=x: status %d, want 400", res.StatusCode)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev/mail.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}

func TestHandlerHTMLEscapes(t *testing.T) {
	box := newBox(t)
	send(t, box, mail.Message{
		To:      []string{"ana@example.test"},
		Subject: `<script>alert("x")</script> & Grüße`,
		Text:    `<img src=x onerror=alert(1)> body`,
	})
	res := get(t, box.Handler(), "/dev/mail")
	b, _ := io.ReadAll(res.Body)
	page := string(b)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, page)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "<img") {
		t.Fatalf("page does not escape mail content:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "Grüße") || !strings.Contains(page, "ana@example.test") {
		t.Errorf("page lacks the escaped subject or recipient:\n%s", page)
	}
}

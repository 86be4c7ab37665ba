package smtp

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/mail"
)

// parse builds msg and reads it back with the standard library's parsers.
func parse(t *testing.T, msg mail.Message) (*netmail.Message, []byte) {
	t.Helper()
	from, _ := mail.ParseAddress("Jürgen <noreply@ejazz.test>")
	to, err := msg.Recipients()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := build(msg, from, to, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Lines stay within RFC 5322's hard limit, and continuation lines of
	// folded headers within its recommended 78 characters (the first line
	// may exceed it by the field name: an encoded word is up to 75).
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("bare CR or LF in %q", line)
		}
		if len(line) > 998 || strings.HasPrefix(line, " ") && len(line) > 78 {
			t.Errorf("line too long: %q", line)
		}
	}
	m, err := netmail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, raw)
	}
	return m, raw
}

func TestBuildPlain(t *testing.T) {
	msg := mail.Message{
		To:      []string{"Änne <a@example.test>", "b@example.test"},
		Subject: "Grüße ✓ " + strings.Repeat("viele Wörter ", 12),
		Text:    "Grüße ✓\r\n.\n" + strings.Repeat("x", 200) + "\ntrailing space \n",
	}
	m, raw := parse(t, msg)
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || subj != msg.Subject {
		t.Errorf("Subject = %q (%v), want %q", subj, err, msg.Subject)
	}
	if d, err := m.Header.Date(); err != nil || !d.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("Date = %v (%v)", d, err)
	}
	if from, err := m.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Jürgen" || from[0].Address != "noreply@ejazz.test" {
		t.Errorf("From = %v (%v)", from, err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 2 || to[0].Name != "Änne" || to[1].Address != "b@example.test" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if id := m.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@ejazz.test>") {
		t.Errorf("Message-ID = %q", id)
	}
	if m.Header.Get("MIME-Version") != "1.0" || m.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		m.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("MIME headers: %v", m.Header)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(msg.Text, "\r\n", "\n")
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != want {
		t.Errorf("body = %q, want %q\n%s", got, want, raw)
	}
}

func TestBuildHTML(t *testing.T) {
	msg := mail.Message{To: []string{"a@example.test"}, Subject: "ASCII subject", Text: "plain ✓", HTML: "<p>html ✓</p>"}
	m, _ := parse(t, msg)
	if got := m.Header.Get("Subject"); got != "ASCII subject" {
		t.Errorf("ASCII Subject = %q, want it unencoded", got)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for _, want := range []struct{ typ, body string }{{"text/plain; charset=utf-8", msg.Text}, {"text/html; charset=utf-8", msg.HTML}} {
		p, err := r.NextRawPart()
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Type") != want.typ || p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Errorf("part header %v, want %s", p.Header, want.typ)
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil || string(b) != want.body {
			t.Errorf("part %s = %q (%v), want %q", want.typ, b, err, want.body)
		}
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Errorf("after two parts: %v, want EOF", err)
	}
}

func TestFold(t *testing.T) {
	for _, in := range []string{
		"Subject: short",
		"Subject: " + strings.Repeat("word ", 40),
		"Subject: " + strings.Repeat("a  b   ", 30),
		"Subject: " + strings.Repeat("x", 100) + " y",
	} {
		out := fold(in)
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("fold(%q) = %q lacks CRLF", in, out)
		}
		if unfolded := strings.ReplaceAll(strings.TrimSuffix(out, "\r\n"), "\r\n", ""); unfolded != in {
			t.Errorf("unfold(fold(%q)) = %q", in, unfolded)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")[1:] {
			if strings.TrimSpace(line) == "" {
				t.Errorf("fold(%q) has a blank continuation line: %q", in, out)
			}
		}
		if strings.HasPrefix(out, "Subject:\r\n") {
			t.Errorf("fold(%q) folded right after the field name", in)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := New(Options{Addr: "no-port", From: "a@example.test"}); err == nil {
		t.Error("New accepted an address without port")
	}
	for _, from := range []string{"", "not an address", "a@example.test\r\nBcc: b@example.test"} {
		if _, err := New(Options{Addr: "127.0.0.1:25", From: from}); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("New(From: %q) = %v, want ErrInvalidMessage", from, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "127.3.2.1": true, "smtp.example.com": false, "10.0.0.1": false} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
}

// silent listens on loopback, accepting connections but never greeting.
func silent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

func TestNetworkBounded(t *testing.T) {
	addr := silent(t)
	msg := mail.Message{To: []string{"a@example.test"}, Subject: "s", Text: "t"}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		want    error
	}{
		{"context deadline", time.Minute, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
		{"option timeout", 200 * time.Millisecond, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, context.DeadlineExceeded},
		{"cancellation", time.Minute, func() (context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return c, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{Addr: addr, From: "a@example.test", Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			for op, run := range map[string]func(context.Context) error{
				"Ping": m.Ping,
				"Send": func(c context.Context) error { return m.Send(c, msg) },
			} {
				c, cancel := tc.ctx()
				start := time.Now()
				err := run(c)
				cancel()
				if !errors.Is(err, tc.want) {
					t.Errorf("%s = %v, want %v", op, err, tc.want)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%s took %v", op, d)
				}
			}
		})
	}
}

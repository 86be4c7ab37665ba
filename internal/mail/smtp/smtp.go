// Package smtp implements the mail port over SMTP (scale profile), with the
// standard library's net/smtp: one connection per message, STARTTLS whenever
// the server offers it (except on loopback, where dev sinks live), PLAIN
// authentication when a username is configured, and every network operation
// bounded by the context's deadline and the configured timeout.
//
// Messages are RFC 5322 with MIME: a UTF-8 text/plain body in
// quoted-printable, or multipart/alternative with an HTML part when
// Message.HTML is set; non-ASCII subjects and display names are RFC 2047
// encoded.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/mail"
)

// DefaultTimeout bounds a Send or Ping whose context has no earlier deadline.
const DefaultTimeout = 30 * time.Second

// Options configure the adapter.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// From is the sender address, "noreply@example.com" or
	// "Ejazz <noreply@example.com>".
	From string
	// Username and Password, when Username is set, authenticate with PLAIN
	// (net/smtp only sends them over TLS or to localhost).
	Username, Password string
	// Timeout bounds each Send and Ping (DefaultTimeout when zero).
	Timeout time.Duration
	// LocalName is the name sent in EHLO ("localhost" when empty).
	LocalName string
}

// Mailer sends mail over SMTP.
type Mailer struct {
	opts Options
	host string
	from *netmail.Address
}

var _ mail.Mailer = (*Mailer)(nil)

// New checks the options and returns the mailer; it does not connect.
func New(o Options) (*Mailer, error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail/smtp: address %q: %w", o.Addr, err)
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("mail/smtp: from: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.LocalName == "" {
		o.LocalName = "localhost"
	}
	return &Mailer{opts: o, host: host, from: from}, nil
}

// Name implements storage.Store.
func (m *Mailer) Name() string { return mail.Component + "/smtp" }

// Migrate does nothing: SMTP has no schema.
func (m *Mailer) Migrate(context.Context) error { return nil }

// Close does nothing: connections live for one operation.
func (m *Mailer) Close() error { return nil }

// Ping connects, reads the greeting, says EHLO and QUITs.
func (m *Mailer) Ping(ctx context.Context) error {
	return m.session(ctx, func(*smtp.Client) error { return nil })
}

// Send validates msg and delivers it in one SMTP transaction.
func (m *Mailer) Send(ctx context.Context, msg mail.Message) error {
	to, err := msg.Recipients()
	if err != nil {
		return err
	}
	body, err := build(msg, m.from, to, time.Now())
	if err != nil {
		return fmt.Errorf("mail/smtp: build message: %w", err)
	}
	return m.session(ctx, func(c *smtp.Client) error {
		if m.opts.Username != "" {
			if ok, _ := c.Extension("AUTH"); !ok {
				return errors.New("server does not offer AUTH")
			}
			if err := c.Auth(smtp.PlainAuth("", m.opts.Username, m.opts.Password, m.host)); err != nil {
				return fmt.Errorf("auth: %w", err)
			}
		}
		if err := c.Mail(m.from.Address); err != nil {
			return fmt.Errorf("MAIL FROM: %w", err)
		}
		for _, a := range to {
			if err := c.Rcpt(a.Address); err != nil {
				return fmt.Errorf("RCPT TO %s: %w", a.Address, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("DATA: %w", err)
		}
		if _, err := w.Write(body); err != nil {
			_ = w.Close()
			return fmt.Errorf("DATA: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("DATA: %w", err)
		}
		return nil
	})
}

// session dials the server, says EHLO, upgrades to TLS when offered (not on
// loopback), runs fn and QUITs, all within the context's deadline and the
// timeout; cancelling ctx aborts the connection.
func (m *Mailer) session(ctx context.Context, fn func(*smtp.Client) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	defer func() {
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The connection's deadline is ctx's: let ctx catch up so
				// the error says why.
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
				err = fmt.Errorf("%w (%w)", err, cerr)
			}
			err = fmt.Errorf("mail/smtp %s: %w", m.opts.Addr, err)
		}
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.opts.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			_ = conn.Close()
			return err
		}
	}
	// Cancellation (not only the deadline) unblocks pending reads and writes.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(m.opts.LocalName); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !isLoopback(m.host) {
		if err := c.StartTLS(&tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if err := fn(c); err != nil {
		return err
	}
	return c.Quit()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// build renders msg as an RFC 5322 message with CRLF line endings.
func build(msg mail.Message, from *netmail.Address, to []*netmail.Address, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(fold(name + ": " + value)) }
	header("Date", now.Format(time.RFC1123Z))
	header("From", from.String())
	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	header("To", strings.Join(tos, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	id, err := messageID(from.Address)
	if err != nil {
		return nil, err
	}
	header("Message-ID", id)
	header("MIME-Version", "1.0")

	if msg.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, msg.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}

	mw := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(w, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeQP writes s quoted-printable with CRLF line breaks.
func writeQP(w io.Writer, s string) error {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// fold renders one header field with CRLF, folding it at spaces so lines
// stay within 78 characters where the value allows (RFC 5322 2.2.3); encoded
// words are separated by spaces, so long encoded subjects fold too. It never
// folds right after the field name nor leaves a line of only spaces.
func fold(field string) string {
	const limit = 78
	var b strings.Builder
	line, content := 0, false
	for i, word := range strings.Split(field, " ") {
		if i > 0 {
			if i > 1 && content && line+1+len(word) > limit {
				b.WriteString("\r\n")
				line, content = 0, false
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
		content = content || word != ""
	}
	b.WriteString("\r\n")
	return b.String()
}

// messageID returns a unique Message-ID in the sender's domain.
func messageID(from string) (string, error) {
	r := make([]byte, 16)
	if _, err := rand.Read(r); err != nil {
		return "", err
	}
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	return "<" + hex.EncodeToString(r) + "@" + domain + ">", nil
}

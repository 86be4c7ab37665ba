package smtp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/mail/mailtest"
	"github.com/ejazz/ejazz/internal/mail/smtp"
	"github.com/ejazz/ejazz/internal/testenv"
)

const from = "Ejazz Tests <noreply@ejazz.test>"

// inboxWait bounds how long inbox waits for a message to reach mailpit.
const inboxWait = 10 * time.Second

func TestConformance(t *testing.T) {
	addr := testenv.Require(t, "EJAZZ_SMTP_ADDR")
	pit := mailpit{base: testenv.Require(t, "EJAZZ_MAILPIT_URL")}
	if err := pit.get(ctx(t), "/api/v1/info", &struct{}{}); err != nil {
		testenv.Unreachable(t, "mailpit", err)
	}
	for _, o := range []smtp.Options{
		{Addr: addr, From: from},
		// The dev sink accepts any credentials (on loopback, without TLS).
		{Addr: addr, From: from, Username: "ejazz", Password: "secret"},
	} {
		name := "no auth"
		if o.Username != "" {
			name = "plain auth"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			open := func(t *testing.T) mail.Mailer {
				m, err := smtp.New(o)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Ping(ctx(t)); err != nil {
					testenv.Unreachable(t, "smtp", err)
				}
				return m
			}
			mailtest.MailerSuite(t, open, pit.inbox)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// mailpit reads the dev SMTP sink's HTTP API.
type mailpit struct{ base string }

type summary struct {
	ID      string
	Subject string
	From    struct{ Address string }
	To      []struct{ Address string }
	Created time.Time
}

// inbox waits (at most inboxWait) for the message with subject and returns
// it, or the zero Sent; it deletes the message at cleanup.
func (p mailpit) inbox(t *testing.T, subject string) mail.Sent {
	t.Helper()
	c, cancel := context.WithTimeout(ctx(t), inboxWait)
	defer cancel()
	for {
		var list struct{ Messages []summary }
		if err := p.get(c, "/api/v1/messages?limit=500", &list); err != nil && c.Err() == nil {
			t.Fatalf("mailpit: %v", err)
		}
		for _, m := range list.Messages {
			if m.Subject != subject {
				continue
			}
			t.Cleanup(func() { p.delete(m.ID) })
			var full struct{ Text string }
			if err := p.get(ctx(t), "/api/v1/message/"+url.PathEscape(m.ID), &full); err != nil {
				t.Fatalf("mailpit: %v", err)
			}
			s := mail.Sent{ID: m.ID, From: m.From.Address, Subject: m.Subject, Text: full.Text, At: m.Created}
			for _, to := range m.To {
				s.To = append(s.To, to.Address)
			}
			return s
		}
		select {
		case <-c.Done():
			return mail.Sent{}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p mailpit) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

func (p mailpit) delete(id string) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string][]string{"IDs": {id}})
	req, err := http.NewRequestWithContext(c, http.MethodDelete, p.base+"/api/v1/messages", bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err == nil {
		_ = res.Body.Close()
	}
}

// Package devbox is the embedded profile's dev mailbox: a mail.Mailer that
// stores every message in SQLite instead of sending it, lists them newest
// first, and shows them over HTTP (Handler) so a developer can read the mail
// the platform would have sent (verification links and the like).
//
// The handler serves:
//
//	GET /dev/mail       an HTML page listing the mails, newest first
//	GET /dev/mail.json  a JSON array, newest first, of objects
//	                    {"id", "from", "to": [..], "subject", "text", "at"}
//
// The JSON shape is a public contract (dev tooling and end-to-end tests read
// it). Mount the handler only in development: it shows every stored mail to
// whoever asks.
package devbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/storage"
)

// DefaultLimit is how many mails List and the handler return when asked for
// none in particular; MaxLimit caps what they return.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Box is the dev mailbox.
type Box struct {
	storage.Component
	db   *engine.DB
	from string
}

var _ mail.Mailer = (*Box)(nil)

// DefaultFrom is the sender New records when given none.
const DefaultFrom = "ejazz@localhost"

// New returns the mailbox on a shared connection, recording from (its bare
// address) as the sender of every mail; call Migrate before use.
func New(db *engine.DB, from string) *Box {
	if from == "" {
		from = DefaultFrom
	}
	return &Box{
		Component: storage.Component{ID: mail.Component, EngineName: "devbox", Engine: db, Migrations: migrations},
		db:        db,
		from:      from,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "dev_mail", Statements: []string{
		`CREATE TABLE IF NOT EXISTS dev_mail (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	sender     TEXT NOT NULL,
	recipients TEXT NOT NULL,
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,
	html       TEXT NOT NULL,
	sent_at    TEXT NOT NULL
)`,
	}},
}

// Send validates m and stores it.
func (b *Box) Send(ctx context.Context, m mail.Message) error {
	to, err := m.Recipients()
	if err != nil {
		return err
	}
	addrs := make([]string, len(to))
	for i, a := range to {
		addrs[i] = a.Address
	}
	recipients, err := json.Marshal(addrs)
	if err != nil {
		return err
	}
	from := b.from
	if a, err := mail.ParseAddress(b.from); err == nil {
		from = a.Address
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	_, err = b.db.ExecContext(ctx,
		`INSERT INTO dev_mail (id, sender, recipients, subject, body, html, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		hex.EncodeToString(id), from, string(recipients), m.Subject, m.Text, m.HTML,
		time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("mail/devbox: store: %w", err)
	}
	return nil
}

// List returns up to limit stored mails, newest first (DefaultLimit when
// limit <= 0, at most MaxLimit).
func (b *Box) List(ctx context.Context, limit int) ([]mail.Sent, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	rows, err := b.db.QueryContext(ctx,
		`SELECT id, sender, recipients, subject, body, sent_at FROM dev_mail ORDER BY seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("mail/devbox: list: %w", err)
	}
	defer rows.Close()
	out := []mail.Sent{}
	for rows.Next() {
		var s mail.Sent
		var recipients, at string
		if err := rows.Scan(&s.ID, &s.From, &recipients, &s.Subject, &s.Text, &at); err != nil {
			return nil, fmt.Errorf("mail/devbox: list: %w", err)
		}
		if err := json.Unmarshal([]byte(recipients), &s.To); err != nil {
			return nil, fmt.Errorf("mail/devbox: mail %s: recipients: %w", s.ID, err)
		}
		if s.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, fmt.Errorf("mail/devbox: mail %s: time: %w", s.ID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mail/devbox: list: %w", err)
	}
	return out, nil
}

// jsonMail is the public JSON shape of one mail.
type jsonMail struct {
	ID      string    `json:"id"`
	From    string    `json:"from"`
	To      []string  `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
}

// Handler serves GET /dev/mail (HTML) and GET /dev/mail.json (JSON); both
// accept ?limit=N.
func (b *Box) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dev/mail", func(w http.ResponseWriter, r *http.Request) {
		list, ok := b.list(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, list) // on error the client sees a truncated page
	})
	mux.HandleFunc("GET /dev/mail.json", func(w http.ResponseWriter, r *http.Request) {
		list, ok := b.list(w, r)
		if !ok {
			return
		}
		out := make([]jsonMail, len(list))
		for i, s := range list {
			to := s.To
			if to == nil {
				to = []string{}
			}
			out[i] = jsonMail{ID: s.ID, From: s.From, To: to, Subject: s.Subject, Text: s.Text, At: s.At}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	return mux
}

// list reads ?limit and the mails, answering errors itself.
func (b *Box) list(w http.ResponseWriter, r *http.Request) ([]mail.Sent, bool) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "limit must be a non-negative integer", http.StatusBadRequest)
			return nil, false
		}
		limit = n
	}
	list, err := b.List(r.Context(), limit)
	if err != nil {
		http.Error(w, "dev mailbox: "+err.Error(), http.StatusInternalServerError)
		return nil, false
	}
	return list, true
}

var page = template.Must(template.New("mail").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Ejazz dev mailbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
article { border: 1px solid #ccc; border-radius: 4px; padding: .5rem 1rem; margin: 1rem 0; }
h2 { font-size: 1.1rem; margin: .3rem 0; }
.meta { color: #555; font-size: .9rem; }
pre { white-space: pre-wrap; word-break: break-word; }
</style>
</head>
<body>
<h1>Dev mailbox</h1>
<p>Mail the platform would have sent, newest first (<a href="/dev/mail.json">JSON</a>).</p>
{{range .}}<article id="mail-{{.ID}}">
<h2>{{.Subject}}</h2>
<div class="meta">{{when .At}} · from {{.From}} · to {{range $i, $a := .To}}{{if $i}}, {{end}}{{$a}}{{end}}</div>
<pre>{{.Text}}</pre>
</article>
{{else}}<p>No mail yet.</p>
{{end}}</body>
</html>
`))

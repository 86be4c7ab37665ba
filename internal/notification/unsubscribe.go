package notification

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// UnsubscribePath is where the unsubscribe links of notification mails
// point (served by Unsubscribe.Handler).
const UnsubscribePath = "/notifications/unsubscribe"

// Unsubscribe signs the unsubscribe links of notification mails and serves
// them. A link is UnsubscribePath?u=<user>&t=<token>, the token an
// HMAC-SHA256 of the user ID under a key shared by every process (the
// preference store's secret "unsubscribe", or Key). Opening the link shows a
// confirmation page; its button (a POST to the same URL, which is also what
// RFC 8058 one-click unsubscribe sends) sets the user's email frequency to
// Never. GET never changes anything, so mail scanners that follow links do
// not unsubscribe anyone.
type Unsubscribe struct {
	Prefs PreferenceStore
	// Key signs the links; nil uses the store's secret "unsubscribe".
	Key []byte
	// BaseURL is the platform's public URL (links in mails).
	BaseURL string
	Log     *slog.Logger

	mu  sync.Mutex
	key []byte
}

func (u *Unsubscribe) signingKey(ctx context.Context) ([]byte, error) {
	if len(u.Key) > 0 {
		return u.Key, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.key == nil {
		k, err := u.Prefs.Secret(ctx, "unsubscribe")
		if err != nil {
			return nil, err
		}
		u.key = k
	}
	return u.key, nil
}

func token(key []byte, userID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("unsubscribe\x00" + userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// URL returns userID's unsubscribe link.
func (u *Unsubscribe) URL(ctx context.Context, userID string) (string, error) {
	key, err := u.signingKey(ctx)
	if err != nil {
		return "", err
	}
	q := url.Values{"u": {userID}, "t": {token(key, userID)}}
	return strings.TrimRight(u.BaseURL, "/") + UnsubscribePath + "?" + q.Encode(), nil
}

// Valid reports whether tok is userID's unsubscribe token.
func (u *Unsubscribe) Valid(ctx context.Context, userID, tok string) (bool, error) {
	key, err := u.signingKey(ctx)
	if err != nil {
		return false, err
	}
	return userID != "" && hmac.Equal([]byte(token(key, userID)), []byte(tok)), nil
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Ejazz notification emails</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Notification emails</h1>
{{if .Done}}<p>You will no longer receive notification emails. You can turn them back on in your notification settings.</p>
{{else if .Bad}}<p>This unsubscribe link is not valid.</p>
{{else}}<p>Stop receiving notification emails from Ejazz?</p>
<form method="post"><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>
`))

// Handler serves UnsubscribePath: GET shows the confirmation, POST
// unsubscribes. A bad link is 403; a store failure is 503.
func (u *Unsubscribe) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		user, tok := q.Get("u"), q.Get("t")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ok, err := u.Valid(r.Context(), user, tok)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			_ = unsubscribePage.Execute(w, map[string]bool{"Bad": true})
			return
		}
		if r.Method == http.MethodGet {
			_ = unsubscribePage.Execute(w, map[string]bool{})
			return
		}
		if _, err := u.Prefs.UpdatePreferences(r.Context(), user, Change{Digest: Never}); err != nil {
			u.fail(w, r, err)
			return
		}
		_ = unsubscribePage.Execute(w, map[string]bool{"Done": true})
	})
}

func (u *Unsubscribe) fail(w http.ResponseWriter, r *http.Request, err error) {
	log := u.Log
	if log == nil {
		log = slog.Default()
	}
	log.ErrorContext(r.Context(), "unsubscribe", "err", err)
	http.Error(w, "temporarily unavailable; retry", http.StatusServiceUnavailable)
}

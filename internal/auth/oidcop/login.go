package oidcop

import (
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storage"
)

// loginPage is the hosted sign-in page. GET shows the form for an auth
// request; POST checks the password and completes the request.
//
// CSRF: the form carries the auth request id (256 random bits) and a
// per-request token that is also set as a SameSite=Strict, HttpOnly cookie;
// a POST must present both and they must match the stored token, so another
// site cannot submit the form in the user's browser. The page refuses to be
// framed.
//
// TODO: sign-in throttling (account.Sessions.RecordSignInFailure) as the
// auth API does, and TOTP for accounts that enabled it.
type loginPage struct {
	store     *opStore
	accounts  account.Store
	callback  func(context.Context, string) string
	secure    bool
	dummyHash string
	now       func() time.Time
}

const maxFormBytes = 8 << 10

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title></head>
<body><main>
<h1>Sign in</h1>
{{if .Client}}<p>to continue to {{.Client}}</p>{{end}}
{{if .Error}}<p role="alert" class="error">{{.Error}}</p>{{end}}
<form method="post" action="login" autocomplete="on">
<input type="hidden" name="id" value="{{.ID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>Email or handle <input name="login" value="{{.Login}}" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
</main></body></html>
`))

type loginView struct {
	ID, CSRF, Client, Login, Error string
}

func (p *loginPage) cookieName() string {
	if p.secure {
		return "__Host-oidcop_csrf"
	}
	return "oidcop_csrf"
}

func (p *loginPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.show(w, r, r.URL.Query().Get("id"), "", "", http.StatusOK)
	case http.MethodPost:
		p.submit(w, r)
	default:
		h.Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// show renders the form for a pending auth request, setting the CSRF cookie.
func (p *loginPage) show(w http.ResponseWriter, r *http.Request, id, login, msg string, status int) {
	req, ok := p.store.pending(r.Context(), id)
	if !ok {
		http.Error(w, "This sign-in link has expired. Go back to the application and try again.", http.StatusBadRequest)
		return
	}
	csrf := req.CSRF
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(), Value: csrf, Path: "/", MaxAge: int(authRequestTTL / time.Second),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = loginTmpl.Execute(w, loginView{ID: id, CSRF: csrf, Client: req.GetClientID(), Login: login, Error: msg})
}

func (p *loginPage) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("id")
	req, ok := p.store.pending(r.Context(), id)
	if !ok {
		http.Error(w, "This sign-in link has expired. Go back to the application and try again.", http.StatusBadRequest)
		return
	}
	cookie, err := r.Cookie(p.cookieName())
	form := r.PostForm.Get("csrf")
	if err != nil || req.CSRF == "" || form == "" ||
		subtle.ConstantTimeCompare([]byte(form), []byte(req.CSRF)) != 1 ||
		subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(req.CSRF)) != 1 {
		http.Error(w, "The form expired. Reload the page and try again.", http.StatusForbidden)
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("login"))
	password := r.PostForm.Get("password")
	acct, err := p.authenticate(r.Context(), login, password)
	if err != nil {
		if !errors.Is(err, errBadCredentials) {
			slog.ErrorContext(r.Context(), "oidcop sign-in", "err", err)
			p.show(w, r, id, login, "Sign-in is unavailable right now. Try again later.", http.StatusServiceUnavailable)
			return
		}
		p.show(w, r, id, login, "Wrong email, handle or password.", http.StatusUnauthorized)
		return
	}
	if err := p.store.complete(r.Context(), id, acct.ID); err != nil {
		http.Error(w, "This sign-in link has expired. Go back to the application and try again.", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, p.callback(r.Context(), id), http.StatusSeeOther)
}

var errBadCredentials = errors.New("bad credentials")

// authenticate finds the account by email (when login has an @) or handle
// and checks the password; unverified accounts are refused like wrong
// passwords. Unknown logins still pay for one hash so timing does not tell
// which accounts exist.
func (p *loginPage) authenticate(ctx context.Context, login, password string) (account.Account, error) {
	if login == "" || password == "" {
		return account.Account{}, errBadCredentials
	}
	var a account.Account
	var err error
	if strings.Contains(login, "@") {
		a, err = p.accounts.GetByEmail(ctx, auth.NormalizeEmail(login))
	} else {
		a, err = p.accounts.GetByHandle(ctx, login)
	}
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = auth.VerifyPassword(password, p.dummyHash)
		return account.Account{}, errBadCredentials
	}
	if err != nil {
		return account.Account{}, err
	}
	ok, err := auth.VerifyPassword(password, a.PasswordHash)
	if err != nil {
		return account.Account{}, err
	}
	if !ok || !a.Verified() {
		return account.Account{}, errBadCredentials
	}
	return a, nil
}

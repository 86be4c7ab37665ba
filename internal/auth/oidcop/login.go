package oidcop

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/auth"
)

// loginPage is the hosted sign-in page. GET shows the form for an auth
// request; POST checks the password and completes the request, or, when the
// account has TOTP on, answers with a second form for the code (step=totp)
// whose POST completes it.
//
// The checks are the auth API's (auth.SignIns, shared with
// AuthService.SignIn): every attempt, a code attempt included, counts as a
// failure until one succeeds; more than auth.MaxSignInFailures in
// auth.SignInFailureWindow are refused with 429 and Retry-After. A TOTP
// code is accepted once (its step is spent); a recovery code works too, once.
// The code step belongs to the auth request whose password step passed
// (PendingSubject), so it needs that request's CSRF cookie as well.
//
// CSRF: the form carries the auth request id (256 random bits) and a
// per-request token that is also set as a SameSite=Strict, HttpOnly cookie;
// a POST must present both and they must match the stored token, so another
// site cannot submit the form in the user's browser. The page refuses to be
// framed.
type loginPage struct {
	store    *opStore
	signIns  *auth.SignIns
	callback func(context.Context, string) string
	secure   bool
}

const maxFormBytes = 8 << 10

// stepTOTP is the code form's step field.
const stepTOTP = "totp"

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
{{if .CodeStep}}<input type="hidden" name="step" value="totp">
<label>Code from your authenticator app, or a recovery code <input name="code" autocomplete="one-time-code" required autofocus></label>
<button type="submit">Verify</button>
{{else}}<label>Email or handle <input name="login" value="{{.Login}}" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
{{end}}</form>
</main></body></html>
`))

type loginView struct {
	ID, CSRF, Client, Login, Error string
	CodeStep                       bool
}

const (
	msgExpired     = "This sign-in link has expired. Go back to the application and try again."
	msgBadLogin    = "Wrong email, handle or password."
	msgCodeNeeded  = "Enter the code from your authenticator app, or a recovery code."
	msgBadCode     = "That code is wrong, expired or already used."
	msgUnavailable = "Sign-in is unavailable right now. Try again later."
)

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
		p.show(w, r, loginView{ID: r.URL.Query().Get("id")}, http.StatusOK)
	case http.MethodPost:
		p.submit(w, r)
	default:
		h.Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// show renders a form (v.CodeStep: the code form) for a pending auth
// request, setting the CSRF cookie.
func (p *loginPage) show(w http.ResponseWriter, r *http.Request, v loginView, status int) {
	req, ok := p.store.pending(r.Context(), v.ID)
	if !ok {
		http.Error(w, msgExpired, http.StatusBadRequest)
		return
	}
	v.CSRF, v.Client = req.CSRF, req.GetClientID()
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(), Value: v.CSRF, Path: "/", MaxAge: int(authRequestTTL / time.Second),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = loginTmpl.Execute(w, v)
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
		http.Error(w, msgExpired, http.StatusBadRequest)
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
	if r.PostForm.Get("step") == stepTOTP {
		p.submitCode(w, r, req)
		return
	}
	p.submitPassword(w, r, req)
}

// submitPassword is the first step: identifier and password.
func (p *loginPage) submitPassword(w http.ResponseWriter, r *http.Request, req *authRequest) {
	ctx := r.Context()
	login := strings.TrimSpace(r.PostForm.Get("login"))
	view := loginView{ID: req.ID, Login: login}
	acc, err := p.signIns.CheckPassword(ctx, login, r.PostForm.Get("password"))
	if err == nil && !acc.Verified() {
		err = auth.ErrBadCredentials // unverified accounts are refused like wrong passwords
	}
	if err != nil {
		p.refuse(w, r, view, err)
		return
	}
	totpOn, err := p.signIns.TOTPEnabled(ctx, acc.ID)
	if err != nil {
		p.refuse(w, r, view, err)
		return
	}
	if totpOn {
		if err := p.store.awaitCode(ctx, req.ID, acc.ID); err != nil {
			http.Error(w, msgExpired, http.StatusBadRequest)
			return
		}
		p.show(w, r, loginView{ID: req.ID, CodeStep: true}, http.StatusOK)
		return
	}
	p.finish(w, r, view, acc.ID)
}

// submitCode is the second step: a TOTP or recovery code for the account
// whose password the first step accepted on this request.
func (p *loginPage) submitCode(w http.ResponseWriter, r *http.Request, req *authRequest) {
	ctx := r.Context()
	subject := req.PendingSubject
	if subject == "" {
		p.show(w, r, loginView{ID: req.ID, Error: "Enter your email or handle and password first."}, http.StatusBadRequest)
		return
	}
	view := loginView{ID: req.ID, CodeStep: true}
	if err := p.signIns.Attempt(ctx, subject); err != nil {
		p.refuse(w, r, view, err)
		return
	}
	if err := p.signIns.SecondFactor(ctx, subject, r.PostForm.Get("code")); err != nil {
		p.refuse(w, r, view, err)
		return
	}
	p.finish(w, r, view, subject)
}

// finish clears the account's failures, completes the auth request and
// sends the browser on to op's callback.
func (p *loginPage) finish(w http.ResponseWriter, r *http.Request, view loginView, subject string) {
	if err := p.signIns.Succeeded(r.Context(), subject); err != nil {
		p.refuse(w, r, view, err)
		return
	}
	if err := p.store.complete(r.Context(), view.ID, subject); err != nil {
		http.Error(w, msgExpired, http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, p.callback(r.Context(), view.ID), http.StatusSeeOther)
}

// refuse shows the form again with the message for an auth.SignIns error;
// other errors are logged (never with the password or code) and shown as
// unavailable.
func (p *loginPage) refuse(w http.ResponseWriter, r *http.Request, view loginView, err error) {
	var throttled *auth.ThrottledError
	status := http.StatusUnauthorized
	switch {
	case errors.As(err, &throttled):
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", fmt.Sprint(int(throttled.RetryAfter.Seconds())))
		view.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", int(throttled.RetryAfter.Minutes()))
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrUnverified):
		view.Error = msgBadLogin
	case errors.Is(err, auth.ErrTOTPRequired):
		view.Error = msgCodeNeeded
	case errors.Is(err, auth.ErrTOTPInvalid):
		view.Error = msgBadCode
	default:
		slog.ErrorContext(r.Context(), "oidcop sign-in", "err", err)
		status = http.StatusServiceUnavailable
		view.Error = msgUnavailable
	}
	p.show(w, r, view, status)
}

var loggedOutTmpl = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signed out</title></head>
<body><main><h1>Signed out</h1><p>You have been signed out. You can close this page.</p></main></body></html>
`)

// loggedOut is where end_session sends the browser when the client named no
// post_logout_redirect_uri.
func loggedOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if r.Method == http.MethodGet {
		_, _ = w.Write(loggedOutTmpl)
	}
}

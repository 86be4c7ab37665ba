package oidcop_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/auth/oidcop"
	"github.com/ejazz/ejazz/internal/auth/oidcop/oidcoptest"
)

// testClock is a settable clock for the provider.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// enableTOTP turns TOTP on for Ada with one recovery code and returns the
// secret.
func (f *fixture) enableTOTP(t *testing.T, recovery string) string {
	t.Helper()
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Ejazz", AccountName: f.acct.Handle})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutPendingTOTP(t.Context(), f.acct.ID, key.Secret()); err != nil {
		t.Fatal(err)
	}
	if err := f.store.ConfirmTOTP(t.Context(), f.acct.ID, 0, []string{auth.RecoveryCodeHash(recovery)}); err != nil {
		t.Fatal(err)
	}
	return key.Secret()
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantForm requires resp to show the sign-in page again with status and
// message, and no code for the client.
func wantForm(t *testing.T, what string, resp *http.Response, status int, message string) string {
	t.Helper()
	body := readAll(t, resp)
	if resp.StatusCode != status {
		t.Errorf("%s: status %s, want %d", what, resp.Status, status)
	}
	if resp.Header.Get("Location") != "" || strings.Contains(body, "code=") {
		t.Errorf("%s: a code was issued", what)
	}
	if !strings.Contains(body, message) {
		t.Errorf("%s: page lacks %q: %s", what, message, body)
	}
	return body
}

func TestHostedLoginTOTPStep(t *testing.T) {
	clk := &testClock{t: time.Date(2030, 1, 1, 12, 0, 5, 0, time.UTC)}
	f := setup(t, func(c *oidcop.Config) { c.Now = clk.now })
	ctx := t.Context()
	const recovery = "abcde-fghjk"
	secret := f.enableTOTP(t, recovery)
	relying := oidcoptest.RelyingParty(t, f.srv.Client(), f.srv.URL, clientID, redirectURI)

	// login runs the password step, which must answer with the code form.
	login := func(state string) (*http.Client, oidcoptest.LoginForm, string) {
		t.Helper()
		b := f.browser(t)
		verifier := oauth2.GenerateVerifier()
		form := startLogin(t, b, oidcoptest.AuthURL(relying, state, verifier))
		codeForm := oidcoptest.FormFrom(t, form.Post(t, b, "ada@example.com", password))
		if !codeForm.CodeStep || strings.Contains(codeForm.Body, `name="password"`) {
			t.Fatalf("after the password: not the code form: %s", codeForm.Body)
		}
		return b, codeForm, verifier
	}

	b, codeForm, verifier := login("s1")
	wantForm(t, "no code", codeForm.PostCode(t, b, ""), http.StatusUnauthorized, "Enter the code from your authenticator app")
	wantForm(t, "code two steps old", codeForm.PostCode(t, b, totpCode(t, secret, clk.now().Add(-time.Minute))), http.StatusUnauthorized, "That code is wrong, expired or already used.")
	// Another browser (no CSRF cookie) cannot post the code step.
	if resp := codeForm.PostCode(t, f.browser(t), totpCode(t, secret, clk.now())); resp.StatusCode != http.StatusForbidden {
		t.Errorf("code step from another browser: %s", resp.Status)
	}
	current := totpCode(t, secret, clk.now())
	code := codeFrom(t, codeForm.PostCode(t, b, current[:3]+" "+current[3:]), "s1")
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, relying, rp.WithCodeVerifier(verifier))
	if err != nil || tokens.IDTokenClaims.Subject != f.acct.ID {
		t.Fatalf("code exchange after the TOTP step: %v", err)
	}

	// The same code within its window is refused on a new sign-in.
	b, codeForm, _ = login("s2")
	wantForm(t, "reused code", codeForm.PostCode(t, b, current), http.StatusUnauthorized, "That code is wrong, expired or already used.")
	// A recovery code works, once.
	codeFrom(t, codeForm.PostCode(t, b, strings.ToUpper(recovery)), "s2")
	b, codeForm, _ = login("s3")
	wantForm(t, "used recovery code", codeForm.PostCode(t, b, recovery), http.StatusUnauthorized, "That code is wrong, expired or already used.")
	// The next step's code works.
	codeFrom(t, codeForm.PostCode(t, b, totpCode(t, secret, clk.now().Add(30*time.Second))), "s3")

	// The code step cannot skip the password step.
	b = f.browser(t)
	form := startLogin(t, b, oidcoptest.AuthURL(relying, "s4", oauth2.GenerateVerifier()))
	wantForm(t, "code without the password step", form.PostCode(t, b, totpCode(t, secret, clk.now().Add(30*time.Second))),
		http.StatusBadRequest, "password first")
	// A wrong password never reaches the code step.
	wantForm(t, "wrong password", form.Post(t, b, "ada@example.com", "wrong"), http.StatusUnauthorized, "Wrong email, handle or password.")
}

func TestHostedLoginThrottling(t *testing.T) {
	clk := &testClock{t: time.Now().UTC()}
	f := setup(t, func(c *oidcop.Config) { c.Now = clk.now })
	relying := oidcoptest.RelyingParty(t, f.srv.Client(), f.srv.URL, clientID, redirectURI)
	b := f.browser(t)
	form := startLogin(t, b, oidcoptest.AuthURL(relying, "s", oauth2.GenerateVerifier()))
	for i := range auth.MaxSignInFailures {
		wantForm(t, fmt.Sprintf("failure %d", i+1), form.Post(t, b, "Ada", "wrong password"), http.StatusUnauthorized, "Wrong email, handle or password.")
	}
	// The right password is refused now, with a retry hint.
	resp := form.Post(t, b, "ada@example.com", password)
	wantForm(t, "right password while throttled", resp, http.StatusTooManyRequests, "Too many failed sign-ins. Try again in 15 minutes.")
	if got := resp.Header.Get("Retry-After"); got != "900" {
		t.Errorf("Retry-After %q, want 900", got)
	}
	// The API shares the count: its sign-in check refuses the account too.
	signIns := &auth.SignIns{Accounts: f.store, Now: clk.now}
	if _, err := signIns.SignIn(t.Context(), "Ada", password, ""); err == nil || !strings.Contains(err.Error(), "too many failed sign-ins") {
		t.Fatalf("API sign-in while the page throttles: %v", err)
	}

	// The window slides: after 15 quiet minutes the account frees itself
	// (the old auth request has expired meanwhile; the app starts a new one).
	clk.advance(auth.SignInFailureWindow + time.Second)
	b = f.browser(t)
	form = startLogin(t, b, oidcoptest.AuthURL(relying, "s2", oauth2.GenerateVerifier()))
	codeFrom(t, form.Post(t, b, "ada@example.com", password), "s2")
}

// TestHostedLoginThrottlesCodes: code attempts count like passwords, and
// the code step is throttled too.
func TestHostedLoginThrottlesCodes(t *testing.T) {
	clk := &testClock{t: time.Date(2030, 1, 1, 12, 0, 5, 0, time.UTC)}
	f := setup(t, func(c *oidcop.Config) { c.Now = clk.now })
	secret := f.enableTOTP(t, "abcde-fghjk")
	relying := oidcoptest.RelyingParty(t, f.srv.Client(), f.srv.URL, clientID, redirectURI)
	b := f.browser(t)
	form := startLogin(t, b, oidcoptest.AuthURL(relying, "s", oauth2.GenerateVerifier()))
	codeForm := oidcoptest.FormFrom(t, form.Post(t, b, "Ada", password)) // attempt 1
	for i := range auth.MaxSignInFailures - 1 {                          // attempts 2–5
		wantForm(t, fmt.Sprintf("wrong code %d", i+1), codeForm.PostCode(t, b, "000000x"), http.StatusUnauthorized, "That code is wrong")
	}
	resp := codeForm.PostCode(t, b, totpCode(t, secret, clk.now()))
	wantForm(t, "right code while throttled", resp, http.StatusTooManyRequests, "Too many failed sign-ins.")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

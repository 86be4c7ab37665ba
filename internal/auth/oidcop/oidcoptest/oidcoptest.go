// Package oidcoptest drives the OpenID authorization code flow with PKCE the
// way a browser and a stock relying party (zitadel/oidc's rp) do, for tests
// of the built-in provider and of the edge that mounts it.
package oidcoptest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// Result is what a successful code flow yields.
type Result struct {
	Tokens   *oidc.Tokens[*oidc.IDTokenClaims]
	UserInfo *oidc.UserInfo
	RP       rp.RelyingParty // for further calls (revocation, a second exchange)
	Code     string          // the authorization code, already exchanged
	Verifier string          // its PKCE verifier
}

// CodeFlow runs the code flow with PKCE against issuer over plain HTTP
// clients (http.DefaultTransport): discovery, /authorize, the sign-in form
// with its CSRF token and cookie, the redirect with the code, the exchange
// and userinfo. It fails t on any step.
func CodeFlow(t testing.TB, issuer, clientID, redirectURI, login, password string) Result {
	t.Helper()
	return CodeFlowWith(t, &http.Client{}, issuer, clientID, redirectURI, login, password)
}

// CodeFlowWith is CodeFlow on hc's transport (a TLS test server's client, or
// one dialling the issuer's host elsewhere), asking for extraScopes too (say
// offline_access, for a refresh token). hc itself is not modified.
func CodeFlowWith(t testing.TB, hc *http.Client, issuer, clientID, redirectURI, login, password string, extraScopes ...string) Result {
	t.Helper()
	ctx := t.Context()
	relying := RelyingParty(t, hc, issuer, clientID, redirectURI, extraScopes...)
	b := Browser(t, hc, redirectURI)
	verifier := oauth2.GenerateVerifier()
	form := StartLogin(t, b, AuthURL(relying, "state-cf", verifier))
	code := CodeFrom(t, form.Post(t, b, login, password), redirectURI, "state-cf")
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, relying, rp.WithCodeVerifier(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, tokens.IDTokenClaims.Subject, relying)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	return Result{Tokens: tokens, UserInfo: info, RP: relying, Code: code, Verifier: verifier}
}

// RelyingParty is the stock public client (openid profile email and
// extraScopes, client id in the token request) discovering issuer over hc.
func RelyingParty(t testing.TB, hc *http.Client, issuer, clientID, redirectURI string, extraScopes ...string) rp.RelyingParty {
	t.Helper()
	scopes := append([]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}, extraScopes...)
	relying, err := rp.NewRelyingPartyOIDC(t.Context(), issuer, clientID, "", redirectURI, scopes,
		rp.WithHTTPClient(hc), rp.WithAuthStyle(oauth2.AuthStyleInParams))
	if err != nil {
		t.Fatalf("relying party: %v", err)
	}
	return relying
}

// AuthURL is the authorization URL with state and the S256 challenge of verifier.
func AuthURL(relying rp.RelyingParty, state, verifier string) string {
	return rp.AuthURL(state, relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)))
}

// Browser is a cookie-keeping copy of hc that stops at redirectURI instead of
// following it.
func Browser(t testing.TB, hc *http.Client, redirectURI string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *hc
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &c
}

var (
	idRe   = regexp.MustCompile(`name="id" value="([^"]+)"`)
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	stepRe = regexp.MustCompile(`name="step" value="totp"`)
)

// LoginForm is the provider's sign-in form as the browser received it: the
// password form, or (CodeStep) the form asking for a TOTP or recovery code.
type LoginForm struct {
	Action   string
	ID, CSRF string
	CodeStep bool
	Body     string
}

// StartLogin opens the authorization URL and returns the sign-in form.
func StartLogin(t testing.TB, b *http.Client, authURL string) LoginForm {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(resp.Request.URL.Path, "/login") {
		t.Fatalf("authorize did not lead to the sign-in page but %s (%s): %s", resp.Request.URL, resp.Status, ReadAll(t, resp))
	}
	return FormFrom(t, resp)
}

// FormFrom reads a 200 response showing the sign-in page (the password form
// or the code form) and returns its form.
func FormFrom(t testing.TB, resp *http.Response) LoginForm {
	t.Helper()
	body := ReadAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page → %s: %s", resp.Status, body)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("sign-in page may be framed")
	}
	id, csrf := idRe.FindStringSubmatch(body), csrfRe.FindStringSubmatch(body)
	if id == nil || csrf == nil {
		t.Fatalf("no form fields in %s", body)
	}
	action := resp.Request.URL.ResolveReference(&url.URL{Path: "login"}).String()
	return LoginForm{Action: action, ID: html.UnescapeString(id[1]), CSRF: html.UnescapeString(csrf[1]), CodeStep: stepRe.MatchString(body), Body: body}
}

// Post submits the password form with login and password.
func (lf LoginForm) Post(t testing.TB, b *http.Client, login, pw string) *http.Response {
	t.Helper()
	return lf.post(t, b, url.Values{"login": {login}, "password": {pw}})
}

// PostCode submits the code form with a TOTP or recovery code.
func (lf LoginForm) PostCode(t testing.TB, b *http.Client, code string) *http.Response {
	t.Helper()
	return lf.post(t, b, url.Values{"step": {"totp"}, "code": {code}})
}

func (lf LoginForm) post(t testing.TB, b *http.Client, v url.Values) *http.Response {
	t.Helper()
	v.Set("id", lf.ID)
	v.Set("csrf", lf.CSRF)
	resp, err := b.PostForm(lf.Action, v)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ReadAll reads and closes the body.
func ReadAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// CodeFrom returns the code of a redirect to redirectURI carrying wantState.
func CodeFrom(t testing.TB, resp *http.Response, redirectURI, wantState string) string {
	t.Helper()
	body := ReadAll(t, resp)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect to the client, got %s: %s", resp.Status, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirectURI) {
		t.Fatalf("redirect to %s", loc)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("error redirect: %s", loc)
	}
	if q.Get("state") != wantState {
		t.Fatalf("state %q, want %q", q.Get("state"), wantState)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

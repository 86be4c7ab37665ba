package oidcop_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/ejazz/ejazz/internal/account"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/auth/oidcop"
	"github.com/ejazz/ejazz/internal/auth/oidcop/oidcoptest"
	"github.com/ejazz/ejazz/internal/storetest"
)

const (
	clientID      = "web-app"
	redirectURI   = "https://app.example/callback"
	postLogoutURI = "https://app.example/signed-out"
	password      = "correct horse battery staple"
	apiAudience   = "ejazz-api"
	// noRefreshID is a client without the refresh_token grant; otherID
	// another client with it.
	noRefreshID = "no-refresh-app"
	otherID     = "other-app"
)

// testClients are the registered clients: clientID may refresh and has a
// post-logout redirect; noRefreshID may not.
var testClients = []oidcop.Client{
	{ID: clientID, RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{postLogoutURI}, RefreshTokens: true},
	{ID: noRefreshID, RedirectURIs: []string{redirectURI}},
	{ID: otherID, RedirectURIs: []string{redirectURI}, RefreshTokens: true},
}

type fixture struct {
	srv      *httptest.Server
	handler  *atomic.Pointer[http.Handler] // what srv serves
	store    *accountsqlite.Store
	acct     account.Account
	relying  rp.RelyingParty
	issuerJW *auth.Issuer
}

// setup serves a provider on a fresh account store with a verified account
// (Ada) and an unverified one (bob); opts adjust the provider's config.
func setup(t *testing.T, opts ...func(*oidcop.Config)) *fixture {
	t.Helper()
	ctx := t.Context()
	store := accountsqlite.New(storetest.SQLite(t))
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword(password, auth.Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	acct := account.Account{ID: "u-1", Email: "ada@example.com", Handle: "Ada", PasswordHash: hash, CreatedAt: now, VerifiedAt: now}
	if err := store.Create(ctx, acct); err != nil {
		t.Fatal(err)
	}
	unverified := account.Account{ID: "u-2", Email: "bob@example.com", Handle: "bob", PasswordHash: hash, CreatedAt: now}
	if err := store.Create(ctx, unverified); err != nil {
		t.Fatal(err)
	}

	handler := new(atomic.Pointer[http.Handler])
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var key [32]byte
	copy(key[:], "0123456789abcdef0123456789abcdef")
	cfg := oidcop.Config{
		IssuerURL: srv.URL,
		Accounts:  store,
		Clients:   testClients,
		CryptoKey: key,
		AccessTTL: 10 * time.Minute,
		Audience:  apiAudience,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := oidcop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	handler.Store(&h)
	relying, err := rp.NewRelyingPartyOIDC(ctx, srv.URL, clientID, "", redirectURI,
		[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
		rp.WithHTTPClient(srv.Client()), rp.WithAuthStyle(oauth2.AuthStyleInParams))
	if err != nil {
		t.Fatal(err)
	}
	// The API's issuer on the same store: op's tokens must verify with its JWKS.
	iss := &auth.Issuer{Keys: store, IssuerURL: srv.URL, Audience: apiAudience, AccessTTL: 10 * time.Minute, RotateEvery: 24 * time.Hour}
	return &fixture{srv: srv, handler: handler, store: store, acct: acct, relying: relying, issuerJW: iss}
}

// browser is a cookie-keeping client that stops at the relying party's
// redirect_uri instead of following it.
func (f *fixture) browser(t *testing.T) *http.Client {
	return oidcoptest.Browser(t, f.srv.Client(), redirectURI)
}

var (
	startLogin = oidcoptest.StartLogin
	readAll    = oidcoptest.ReadAll
)

// codeFrom returns the code of a redirect to the relying party.
func codeFrom(t *testing.T, resp *http.Response, wantState string) string {
	t.Helper()
	return oidcoptest.CodeFrom(t, resp, redirectURI, wantState)
}

func TestDiscovery(t *testing.T) {
	f := setup(t)
	resp, err := f.srv.Client().Get(f.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d oidc.DiscoveryConfiguration
	if err := json.Unmarshal([]byte(readAll(t, resp)), &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != f.srv.URL {
		t.Errorf("issuer %q, want %q", d.Issuer, f.srv.URL)
	}
	for name, got := range map[string]string{
		"authorization_endpoint": d.AuthorizationEndpoint, "token_endpoint": d.TokenEndpoint,
		"userinfo_endpoint": d.UserinfoEndpoint, "jwks_uri": d.JwksURI,
		"revocation_endpoint": d.RevocationEndpoint, "end_session_endpoint": d.EndSessionEndpoint,
	} {
		if !strings.HasPrefix(got, f.srv.URL+"/") {
			t.Errorf("%s = %q", name, got)
		}
	}
	if !slices.Contains(d.CodeChallengeMethodsSupported, oidc.CodeChallengeMethodS256) {
		t.Errorf("S256 not advertised: %v", d.CodeChallengeMethodsSupported)
	}
	if !slices.Contains(d.IDTokenSigningAlgValuesSupported, "ES256") {
		t.Errorf("ES256 not advertised: %v", d.IDTokenSigningAlgValuesSupported)
	}
	// A registered client may refresh: the grant and its scope are advertised.
	if !slices.Contains(d.GrantTypesSupported, oidc.GrantTypeRefreshToken) || !slices.Contains(d.ScopesSupported, oidc.ScopeOfflineAccess) {
		t.Errorf("refresh not advertised: grants %v, scopes %v", d.GrantTypesSupported, d.ScopesSupported)
	}
}

// TestDiscoveryWithoutRefreshClients: when no client may refresh, neither
// the refresh_token grant nor offline_access is advertised.
func TestDiscoveryWithoutRefreshClients(t *testing.T) {
	f := setup(t, func(c *oidcop.Config) { c.Clients = testClients[1:2] })
	resp, err := f.srv.Client().Get(f.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d oidc.DiscoveryConfiguration
	if err := json.Unmarshal([]byte(readAll(t, resp)), &d); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(d.GrantTypesSupported, oidc.GrantTypeRefreshToken) || slices.Contains(d.ScopesSupported, oidc.ScopeOfflineAccess) {
		t.Errorf("refresh advertised without a client allowed to: grants %v, scopes %v", d.GrantTypesSupported, d.ScopesSupported)
	}
}

func TestCodeFlowWithPKCE(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	b := f.browser(t)

	verifier := oauth2.GenerateVerifier()
	authURL := rp.AuthURL("state-1", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)))
	form := startLogin(t, b, authURL)
	code := codeFrom(t, form.Post(t, b, "ada@example.com", password), "state-1")

	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, f.relying, rp.WithCodeVerifier(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tokens.IDTokenClaims.Subject != f.acct.ID {
		t.Errorf("id token sub %q", tokens.IDTokenClaims.Subject)
	}

	info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, tokens.IDTokenClaims.Subject, f.relying)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != f.acct.ID || info.PreferredUsername != "Ada" || info.Email != "ada@example.com" || !bool(info.EmailVerified) {
		t.Errorf("userinfo %+v", info)
	}

	// The access token is a JWT on the account store's keys: the API's
	// verifier accepts it with the built-in issuer's JWKS.
	v := &auth.Verifier{JWKS: f.issuerJW.JWKS, IssuerURL: f.srv.URL, Audience: apiAudience, Leeway: time.Minute}
	caller, err := v.Verify(ctx, tokens.AccessToken)
	if err != nil {
		t.Fatalf("auth.Verifier refused the access token: %v", err)
	}
	if caller.UserID != f.acct.ID {
		t.Errorf("caller %+v", caller)
	}

	// Codes are single use.
	if _, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, f.relying, rp.WithCodeVerifier(verifier)); err == nil {
		t.Error("second exchange of the same code succeeded")
	}

	// After revocation userinfo refuses the token.
	if err := rp.RevokeToken(ctx, f.relying, tokens.AccessToken, "access_token"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, f.acct.ID, f.relying); err == nil {
		t.Error("userinfo accepted a revoked token")
	}
}

func TestSignInByHandle(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	verifier := oauth2.GenerateVerifier()
	form := startLogin(t, b, rp.AuthURL("s", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier))))
	codeFrom(t, form.Post(t, b, "ADA", password), "s")
}

func TestWrongPasswordShowsFormAgain(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	verifier := oauth2.GenerateVerifier()
	form := startLogin(t, b, rp.AuthURL("s", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier))))

	for _, tc := range []struct{ name, login, pw string }{
		{"wrong password", "ada@example.com", "wrong"},
		{"unknown account", "nobody@example.com", password},
		{"unverified account", "bob@example.com", password},
	} {
		resp := form.Post(t, b, tc.login, tc.pw)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %s", tc.name, resp.Status)
		}
		if resp.Header.Get("Location") != "" || strings.Contains(body, "code=") {
			t.Errorf("%s: a code was issued", tc.name)
		}
		if !strings.Contains(body, "Wrong email, handle or password.") || !strings.Contains(body, `name="password"`) {
			t.Errorf("%s: no form with error: %s", tc.name, body)
		}
	}

	// The form still works afterwards.
	codeFrom(t, form.Post(t, b, "ada@example.com", password), "s")
}

func TestFormEscapesInput(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	form := startLogin(t, b, rp.AuthURL("s", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(oauth2.GenerateVerifier()))))
	body := readAll(t, form.Post(t, b, `"><script>alert(1)</script>`, "x"))
	if strings.Contains(body, "<script>") {
		t.Errorf("login echoed unescaped: %s", body)
	}
}

func TestCSRF(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	form := startLogin(t, b, rp.AuthURL("s", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(oauth2.GenerateVerifier()))))

	// Another browser (no cookie) posting the same form fields is refused.
	other := f.browser(t)
	if resp := form.Post(t, other, "ada@example.com", password); resp.StatusCode != http.StatusForbidden {
		t.Errorf("post without the csrf cookie: %s", resp.Status)
	}
	// A wrong form token is refused too.
	bad := form
	bad.CSRF = "forged"
	if resp := bad.Post(t, b, "ada@example.com", password); resp.StatusCode != http.StatusForbidden {
		t.Errorf("post with a forged token: %s", resp.Status)
	}
}

func TestTamperedVerifierRefused(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	verifier := oauth2.GenerateVerifier()
	form := startLogin(t, b, rp.AuthURL("s", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier))))
	code := codeFrom(t, form.Post(t, b, "ada@example.com", password), "s")

	_, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, f.relying, rp.WithCodeVerifier(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("exchange with a wrong verifier: %v", err)
	}
	// Without a verifier at all.
	if _, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, f.relying); err == nil {
		t.Fatal("exchange without a verifier succeeded")
	}
}

func TestPublicClientNeedsPKCE(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	resp, err := b.Get(rp.AuthURL("s", f.relying)) // no code_challenge
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
		t.Fatalf("authorize without PKCE: %s %s", resp.Status, resp.Header.Get("Location"))
	}
}

// TestReplicasShareState runs the code flow with two providers on one account
// store, behind one URL that alternates between them per request: every step
// (authorize, sign-in page, form post, callback, token, userinfo, revoke)
// finds the state the other replica stored.
func TestReplicasShareState(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	var key [32]byte
	copy(key[:], "0123456789abcdef0123456789abcdef")
	var replicas [2]http.Handler
	for i := range replicas {
		h, err := oidcop.New(oidcop.Config{
			IssuerURL: f.srv.URL,
			Accounts:  f.store,
			Clients:   testClients,
			CryptoKey: key,
			AccessTTL: 10 * time.Minute,
			Audience:  apiAudience,
		})
		if err != nil {
			t.Fatal(err)
		}
		replicas[i] = h
	}
	var mu sync.Mutex
	served := [2]int{}
	next := 0
	var alternate http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := next
		next = 1 - next
		served[i]++
		mu.Unlock()
		replicas[i].ServeHTTP(w, r)
	})
	f.handler.Store(&alternate)

	b := f.browser(t)
	verifier := oauth2.GenerateVerifier()
	form := startLogin(t, b, rp.AuthURL("state-r", f.relying, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier))))
	code := codeFrom(t, form.Post(t, b, "ada@example.com", password), "state-r")
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, f.relying, rp.WithCodeVerifier(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tokens.IDTokenClaims.Subject != f.acct.ID {
		t.Errorf("id token sub %q", tokens.IDTokenClaims.Subject)
	}
	// The token is known to both replicas.
	for range 2 {
		info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, f.acct.ID, f.relying)
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != f.acct.ID {
			t.Errorf("userinfo %+v", info)
		}
	}
	// The code was used up on whichever replica exchanged it.
	for range 2 {
		if _, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, f.relying, rp.WithCodeVerifier(verifier)); err == nil {
			t.Error("second exchange of the same code succeeded")
		}
	}
	// A revocation on one replica holds on both.
	if err := rp.RevokeToken(ctx, f.relying, tokens.AccessToken, "access_token"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	for range 2 {
		if _, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, f.acct.ID, f.relying); err == nil {
			t.Error("userinfo accepted a revoked token")
		}
	}
	// Refresh tokens rotate across replicas, and reuse detected on one
	// revokes the session on both.
	offline, offRP := f.offlineTokens(t, clientID)
	rotated, err := f.refresh(t, offRP, offline.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	rotated2, err := f.refresh(t, offRP, rotated.RefreshToken)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	_, err = f.refresh(t, offRP, rotated.RefreshToken)
	wantInvalidGrant(t, "reuse on a replica", err)
	for range 2 {
		_, err = f.refresh(t, offRP, rotated2.RefreshToken)
		wantInvalidGrant(t, "newest token after reuse", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if served[0] < 3 || served[1] < 3 {
		t.Errorf("requests per replica: %v", served)
	}
}

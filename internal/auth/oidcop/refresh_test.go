package oidcop_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/auth/oidcop/oidcoptest"
)

// offlineTokens runs the code flow for Ada asking for offline_access and
// returns the tokens and the relying party that got them.
func (f *fixture) offlineTokens(t *testing.T, client string) (*oidc.Tokens[*oidc.IDTokenClaims], rp.RelyingParty) {
	t.Helper()
	relying := oidcoptest.RelyingParty(t, f.srv.Client(), f.srv.URL, client, redirectURI, oidc.ScopeOfflineAccess)
	b := f.browser(t)
	verifier := oauth2.GenerateVerifier()
	form := startLogin(t, b, oidcoptest.AuthURL(relying, "s-off", verifier))
	code := codeFrom(t, form.Post(t, b, "ada@example.com", password), "s-off")
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](t.Context(), code, relying, rp.WithCodeVerifier(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tokens, relying
}

// refresh redeems a refresh token with golang.org/x/oauth2's TokenSource,
// the way stock OAuth clients refresh.
func (f *fixture) refresh(t *testing.T, relying rp.RelyingParty, refreshToken string) (*oauth2.Token, error) {
	t.Helper()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, f.srv.Client())
	return relying.OAuthConfig().TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// wantInvalidGrant requires err to be the token endpoint's invalid_grant.
func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	tokens, relying := f.offlineTokens(t, clientID)
	first := tokens.RefreshToken
	if first == "" {
		t.Fatal("no refresh token for offline_access")
	}

	// A refresh returns a new access token and a new refresh token.
	next, err := f.refresh(t, relying, first)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.AccessToken == "" || next.AccessToken == tokens.AccessToken || next.RefreshToken == "" || next.RefreshToken == first {
		t.Fatalf("refresh gave access %t (new %t), refresh %t (new %t)", next.AccessToken != "", next.AccessToken != tokens.AccessToken,
			next.RefreshToken != "", next.RefreshToken != first)
	}
	v := &auth.Verifier{JWKS: f.issuerJW.JWKS, IssuerURL: f.srv.URL, Audience: apiAudience, Leeway: time.Minute}
	if caller, err := v.Verify(ctx, next.AccessToken); err != nil || caller.UserID != f.acct.ID {
		t.Fatalf("refreshed access token: %+v, %v", caller, err)
	}
	info, err := rp.Userinfo[*oidc.UserInfo](ctx, next.AccessToken, oidc.BearerToken, f.acct.ID, relying)
	if err != nil || info.Subject != f.acct.ID || info.Email != "ada@example.com" {
		t.Fatalf("userinfo with the refreshed token: %+v, %v", info, err)
	}

	// zitadel's relying party refreshes the rotated token and verifies the
	// ID token that comes with it.
	third, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, relying, next.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("rp.RefreshTokens: %v", err)
	}
	if third.IDTokenClaims == nil || third.IDTokenClaims.Subject != f.acct.ID || third.RefreshToken == "" {
		t.Fatalf("rp.RefreshTokens gave %+v", third)
	}

	// Reusing the first (spent) token is refused and revokes the family:
	// the newest token of the session stops working too.
	_, err = f.refresh(t, relying, first)
	wantInvalidGrant(t, "reused refresh token", err)
	_, err = f.refresh(t, relying, third.RefreshToken)
	wantInvalidGrant(t, "newest token after reuse", err)

	// Junk is invalid_grant too.
	_, err = f.refresh(t, relying, "not-a-refresh-token")
	wantInvalidGrant(t, "unknown refresh token", err)
}

// tokenPost posts a token request directly (for parameters stock clients
// do not send on refresh, such as scope) and returns the status and body.
func (f *fixture) tokenPost(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := f.srv.Client().PostForm(f.srv.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(readAll(t, resp)), &body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestRefreshScopes: a refresh may narrow the scope (for that access token
// only; the session keeps its grant); asking for more is invalid_scope and
// does not spend the token.
func TestRefreshScopes(t *testing.T) {
	f := setup(t)
	tokens, relying := f.offlineTokens(t, clientID)
	form := func(rt, scope string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "scope": {scope}}
	}
	status, body := f.tokenPost(t, form(tokens.RefreshToken, "openid offline_access phone"))
	if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Fatalf("refresh with a broader scope: %d %v, want invalid_scope", status, body)
	}
	status, body = f.tokenPost(t, form(tokens.RefreshToken, "openid offline_access"))
	if status != http.StatusOK || body["scope"] != "openid offline_access" {
		t.Fatalf("refresh with a narrower scope (the token was not spent by the refused request): %d %v", status, body)
	}
	rt, _ := body["refresh_token"].(string)
	next, err := f.refresh(t, relying, rt)
	if err != nil {
		t.Fatalf("refresh after a narrowed one: %v", err)
	}
	if got, _ := next.Extra("scope").(string); got != "openid profile email offline_access" {
		t.Errorf("the session's scope after a narrowed refresh: %q, want the original grant", got)
	}
}

func TestRefreshOnlyWhenAllowed(t *testing.T) {
	f := setup(t)
	// Without offline_access there is no refresh token.
	res := oidcoptest.CodeFlowWith(t, f.srv.Client(), f.srv.URL, clientID, redirectURI, "Ada", password)
	if res.Tokens.RefreshToken != "" {
		t.Error("a refresh token without offline_access")
	}
	// A client without the refresh_token grant gets none even when asking.
	tokens, relying := f.offlineTokens(t, noRefreshID)
	if tokens.RefreshToken != "" {
		t.Error("a refresh token for a client without the refresh_token grant")
	}
	// Another client cannot redeem this client's refresh token.
	mine, _ := f.offlineTokens(t, clientID)
	_, err := f.refresh(t, relying, mine.RefreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "unauthorized_client" {
		t.Fatalf("refresh by a client without the grant: %v, want unauthorized_client", err)
	}
	// Nor can another client that may refresh; the refusals did not spend
	// the token.
	other := oidcoptest.RelyingParty(t, f.srv.Client(), f.srv.URL, otherID, redirectURI, oidc.ScopeOfflineAccess)
	_, err = f.refresh(t, other, mine.RefreshToken)
	wantInvalidGrant(t, "refresh by another client", err)
	mineRP := oidcoptest.RelyingParty(t, f.srv.Client(), f.srv.URL, clientID, redirectURI, oidc.ScopeOfflineAccess)
	if _, err := f.refresh(t, mineRP, mine.RefreshToken); err != nil {
		t.Fatalf("refresh by its own client after the refusals: %v", err)
	}
}

func TestRevokeRefreshToken(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	for _, hint := range []string{"refresh_token", "access_token"} {
		tokens, relying := f.offlineTokens(t, clientID)
		// Rotate once: revoking the current token ends the whole session.
		next, err := f.refresh(t, relying, tokens.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if err := rp.RevokeToken(ctx, relying, next.RefreshToken, hint); err != nil {
			t.Fatalf("revoke (hint %s): %v", hint, err)
		}
		_, err = f.refresh(t, relying, next.RefreshToken)
		wantInvalidGrant(t, "refresh after revocation (hint "+hint+")", err)
	}
	// Revoking unknown tokens succeeds (RFC 7009).
	_, relying := f.offlineTokens(t, clientID)
	if err := rp.RevokeToken(ctx, relying, "unknown", "refresh_token"); err != nil {
		t.Fatalf("revoke an unknown token: %v", err)
	}
}

// noRedirects is a client that returns redirects instead of following them.
func (f *fixture) noRedirects() *http.Client {
	c := *f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func TestEndSession(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	tokens, relying := f.offlineTokens(t, clientID)
	other, _ := f.offlineTokens(t, clientID) // a second sign-in before the logout

	// An unregistered post_logout_redirect_uri is refused, ending nothing.
	if _, err := rp.EndSession(ctx, relying, tokens.IDToken, "https://evil.example/", "s", "", nil); err == nil {
		t.Fatal("end_session redirected to an unregistered URI")
	}
	if _, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, oidc.BearerToken, f.acct.ID, relying); err != nil {
		t.Fatalf("userinfo after a refused end_session: %v", err)
	}

	// RP-initiated logout with zitadel's relying party: the provider
	// redirects to the registered URI with the state.
	loc, err := rp.EndSession(ctx, relying, tokens.IDToken, postLogoutURI, "bye", "", nil)
	if err != nil {
		t.Fatalf("end_session: %v", err)
	}
	if loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != postLogoutURI || loc.Query().Get("state") != "bye" {
		t.Fatalf("end_session redirect %v, want %s?state=bye", loc, postLogoutURI)
	}
	// The session is over: the access token's record and every refresh
	// token of sign-ins before the logout are refused.
	if _, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, oidc.BearerToken, f.acct.ID, relying); err == nil {
		t.Error("userinfo accepted an access token of an ended session")
	}
	_, err = f.refresh(t, relying, tokens.RefreshToken)
	wantInvalidGrant(t, "refresh after end_session", err)
	_, err = f.refresh(t, relying, other.RefreshToken)
	wantInvalidGrant(t, "another session's refresh after end_session", err)

	// Signing in again afterwards works, refresh included.
	again, _ := f.offlineTokens(t, clientID)
	if _, err := f.refresh(t, relying, again.RefreshToken); err != nil {
		t.Fatalf("refresh of a sign-in after the logout: %v", err)
	}

	// In the browser without a post_logout_redirect_uri: the provider's own
	// signed-out page.
	resp, err := f.noRedirects().Get(f.srv.URL + "/end_session?" + url.Values{"id_token_hint": {again.IDToken}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != f.srv.URL+"/logged-out" {
		t.Fatalf("end_session without a redirect URI: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = f.srv.Client().Get(f.srv.URL + "/logged-out")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "signed out") {
		t.Fatalf("/logged-out: %s %s", resp.Status, body)
	}
	_, err = f.refresh(t, relying, again.RefreshToken)
	wantInvalidGrant(t, "refresh after the browser's end_session", err)
}

// TestPasswordResetEndsProviderSessions: the provider's refresh tokens are
// the account store's sessions, so what a password reset does
// (RevokeAccountSessions) ends them too.
func TestPasswordResetEndsProviderSessions(t *testing.T) {
	f := setup(t)
	tokens, relying := f.offlineTokens(t, clientID)
	if err := f.store.RevokeAccountSessions(t.Context(), f.acct.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.refresh(t, relying, tokens.RefreshToken)
	wantInvalidGrant(t, "refresh after the account's sessions were revoked", err)
}

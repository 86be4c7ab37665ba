package app_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/auth/oidcop/oidcoptest"
	"github.com/ejazz/ejazz/internal/storetest"
)

// oidcRedirectURI is the web client's callback in the tests; the browser
// stops there, so nothing listens on it. oidcPostLogoutURI is its
// registered post_logout_redirect_uri.
const (
	oidcRedirectURI   = "http://127.0.0.1:3000/oidc-test/callback"
	oidcPostLogoutURI = "http://127.0.0.1:3000/oidc-test/signed-out"
)

// publicClient reaches the edge listening on addr under the issuer's host, as
// a proxy or DNS in front of it would: the issuer stays the configured
// http.public_url (the token issuer the other flows verify against) while the
// test edge listens on a free port.
func publicClient(t *testing.T, issuer, addr string) *http.Client {
	t.Helper()
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if a == host {
			a = addr
		}
		return d.DialContext(ctx, network, a)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// oidcFlow signs up and verifies a fresh user, then drives the built-in
// OpenID Provider through the edge at addr with stock clients: the code flow
// with PKCE and offline_access (zitadel/oidc's relying party), the access
// token on the user service, refresh-token rotation with
// golang.org/x/oauth2 and reuse detection, RP-initiated logout, the hosted
// sign-in page's TOTP step (TOTP switched on through the real RPCs with the
// provider's access token) and its throttling, shared with SignIn.
func oidcFlow(t *testing.T, addr, issuer, clientID string, readMail mailReader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := "http://" + addr
	hc := publicClient(t, issuer, addr)
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base)
	handle := storetest.UniqueName("o")
	email := handle + "@example.com"
	const password = "open sesame passphrase"
	up, err := c.SignUp(ctx, connect.NewRequest(&authv1.SignUpRequest{Email: email, Handle: handle, Password: password, DisplayName: "Olga OIDC"}))
	if err != nil {
		t.Fatalf("SignUp = %v", err)
	}
	userID := up.Msg.GetUserId()
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: waitCode(t, readMail, email, codeRE)})); err != nil {
		t.Fatalf("VerifyEmail = %v", err)
	}

	res := oidcoptest.CodeFlowWith(t, hc, issuer, clientID, oidcRedirectURI, strings.ToUpper(handle), password, oidc.ScopeOfflineAccess)
	if res.Tokens.IDTokenClaims.Subject != userID {
		t.Errorf("id token sub %q, want %q", res.Tokens.IDTokenClaims.Subject, userID)
	}
	if info := res.UserInfo; info.Subject != userID || info.PreferredUsername != handle || info.Email != email || !bool(info.EmailVerified) {
		t.Errorf("userinfo %+v, want sub %s, preferred_username %s, verified %s", info, userID, handle, email)
	}
	// The code flow's access token is accepted by the API.
	updateBio(ctx, t, base, res.Tokens.AccessToken, userID, "signed in with OpenID")

	// Refresh with golang.org/x/oauth2's TokenSource: new tokens, the old
	// refresh token spent.
	refresh := func(rt string) (*oauth2.Token, error) {
		return res.RP.OAuthConfig().TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc), &oauth2.Token{RefreshToken: rt}).Token()
	}
	first := res.Tokens.RefreshToken
	if first == "" {
		t.Fatal("no refresh token for offline_access")
	}
	next, err := refresh(first)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.AccessToken == "" || next.AccessToken == res.Tokens.AccessToken || next.RefreshToken == "" || next.RefreshToken == first {
		t.Fatal("refresh did not return a new access token and a new refresh token")
	}
	updateBio(ctx, t, base, next.AccessToken, userID, "refreshed")
	// Reuse of the spent token is refused and revokes the family: the new
	// token stops working too.
	_, err = refresh(first)
	wantInvalidGrant(t, "reused refresh token", err)
	_, err = refresh(next.RefreshToken)
	wantInvalidGrant(t, "the family's newest refresh token after reuse", err)

	// RP-initiated logout: end_session redirects to the registered
	// post_logout_redirect_uri with the state and ends the session.
	again := oidcoptest.CodeFlowWith(t, hc, issuer, clientID, oidcRedirectURI, handle, password, oidc.ScopeOfflineAccess)
	if _, err := rp.EndSession(ctx, again.RP, again.Tokens.IDToken, "https://elsewhere.example/", "bye", "", nil); err == nil {
		t.Error("end_session accepted an unregistered post_logout_redirect_uri")
	}
	loc, err := rp.EndSession(ctx, again.RP, again.Tokens.IDToken, oidcPostLogoutURI, "bye", "", nil)
	if err != nil {
		t.Fatalf("end_session: %v", err)
	}
	if loc == nil || strings.Split(loc.String(), "?")[0] != oidcPostLogoutURI || loc.Query().Get("state") != "bye" {
		t.Fatalf("end_session redirected to %v, want %s?state=bye", loc, oidcPostLogoutURI)
	}
	if _, err := rp.Userinfo[*oidc.UserInfo](ctx, again.Tokens.AccessToken, oidc.BearerToken, userID, again.RP); err == nil {
		t.Error("userinfo accepted the access token of an ended session")
	}
	_, err = refresh(again.Tokens.RefreshToken)
	wantInvalidGrant(t, "refresh after end_session", err)

	// TOTP on, through the real RPCs with the provider's access token; the
	// hosted sign-in page then asks for a code after the password.
	secret, codeTime, _ := enableTOTP(ctx, t, base, again.Tokens.AccessToken)
	relying := oidcoptest.RelyingParty(t, hc, issuer, clientID, oidcRedirectURI)
	b := oidcoptest.Browser(t, hc, oidcRedirectURI)
	verifier := oauth2.GenerateVerifier()
	form := oidcoptest.StartLogin(t, b, oidcoptest.AuthURL(relying, "st", verifier))
	codeForm := oidcoptest.FormFrom(t, form.Post(t, b, email, password))
	if !codeForm.CodeStep {
		t.Fatalf("after the password of a TOTP account the page shows no code form: %s", codeForm.Body)
	}
	if resp := codeForm.PostCode(t, b, wrongTOTPCode(t, secret, codeTime)); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(oidcoptest.ReadAll(t, resp), "That code is wrong, expired or already used.") {
		t.Errorf("a wrong code on the sign-in page: %s", resp.Status)
	}
	code := oidcoptest.CodeFrom(t, codeForm.PostCode(t, b, totpCode(t, secret, codeTime.Add(30*time.Second))), oidcRedirectURI, "st")
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, relying, rp.WithCodeVerifier(verifier))
	if err != nil || tokens.IDTokenClaims.Subject != userID {
		t.Fatalf("code exchange after the TOTP step: %v", err)
	}

	// Throttling on the page: after 5 failures the right password is
	// refused with a retry hint, and SignIn refuses the account too (one
	// count for both).
	form = oidcoptest.StartLogin(t, b, oidcoptest.AuthURL(relying, "sx", oauth2.GenerateVerifier()))
	for i := range 5 {
		if resp := form.Post(t, b, handle, "not my password"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d on the sign-in page: %s", i+1, resp.Status)
		}
	}
	resp := form.Post(t, b, handle, password)
	body := oidcoptest.ReadAll(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "900" || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("right password after 5 failures on the sign-in page: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	if _, err := c.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: handle, Password: password})); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("SignIn after the page's failures = %v, want resource_exhausted", err)
	}
}

// updateBio sets the bio with token on the user service, failing t unless
// the API accepts the token as userID.
func updateBio(ctx context.Context, t *testing.T, base, token, userID, bio string) {
	t.Helper()
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	upd := connect.NewRequest(&userv1.UpdateProfileRequest{Bio: &bio})
	upd.Header().Set("Authorization", "Bearer "+token)
	got, err := users.UpdateProfile(ctx, upd)
	if err != nil || got.Msg.GetProfile().GetUserId() != userID || got.Msg.GetProfile().GetBio() != bio {
		t.Fatalf("UpdateProfile with the provider's access token = %v, %v", got, err)
	}
}

// wantInvalidGrant requires err to be the token endpoint's invalid_grant.
func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

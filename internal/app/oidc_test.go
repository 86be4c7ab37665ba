package app_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/auth/oidcop/oidcoptest"
	"github.com/ejazz/ejazz/internal/storetest"
)

// oidcRedirectURI is the web client's callback in the tests; the browser
// stops there, so nothing listens on it.
const oidcRedirectURI = "http://127.0.0.1:3000/oidc-test/callback"

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

// oidcFlow signs up and verifies a fresh user, then runs the OpenID code flow
// with PKCE through the edge at addr with zitadel/oidc's relying party, and
// uses the access token it got on the user service.
func oidcFlow(t *testing.T, addr, issuer, clientID string, readMail mailReader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := "http://" + addr
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

	res := oidcoptest.CodeFlowWith(t, publicClient(t, issuer, addr), issuer, clientID, oidcRedirectURI, strings.ToUpper(handle), password)
	if res.Tokens.IDTokenClaims.Subject != userID {
		t.Errorf("id token sub %q, want %q", res.Tokens.IDTokenClaims.Subject, userID)
	}
	if info := res.UserInfo; info.Subject != userID || info.PreferredUsername != handle || info.Email != email || !bool(info.EmailVerified) {
		t.Errorf("userinfo %+v, want sub %s, preferred_username %s, verified %s", info, userID, handle, email)
	}

	// The code flow's access token is accepted by the API.
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	bio := "signed in with OpenID"
	upd := connect.NewRequest(&userv1.UpdateProfileRequest{Bio: &bio})
	upd.Header().Set("Authorization", "Bearer "+res.Tokens.AccessToken)
	got, err := users.UpdateProfile(ctx, upd)
	if err != nil || got.Msg.GetProfile().GetUserId() != userID || got.Msg.GetProfile().GetBio() != bio {
		t.Fatalf("UpdateProfile with the code flow's access token = %v, %v", got, err)
	}
}

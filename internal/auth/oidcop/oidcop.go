// Package oidcop is the built-in OpenID Provider: zitadel/oidc's op package
// on our account store, with a hosted sign-in page.
//
// It supports the authorization-code flow (PKCE S256 required for public
// clients; confidential clients authenticate with a secret), refresh tokens
// for clients that allow them (scope offline_access; rotated on every use,
// reuse revokes the session), discovery, JWKS, userinfo, revocation and
// RP-initiated logout (end_session). The hosted sign-in page applies the
// auth API's sign-in rules (auth.SignIns): throttling and the TOTP step.
// Consent, client registration and device flow are not implemented.
//
// State: auth requests, codes, access-token records and refresh grants live
// in the account store (account.OIDCStore; see opStore), and refresh tokens
// are the account store's sessions (account.Sessions, the same families as
// AuthService's), so any number of replicas can serve
// the provider: each step of a flow may land on any of them, as long as they
// share the account store, the issuer URL and the CryptoKey.
//
// Signing: ID tokens and JWT access tokens are signed with the account
// store's signing keys — the same rotating ES256 keys auth.Issuer uses — so
// they verify with auth.Verifier against auth.Issuer.JWKS.
package oidcop

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
)

// Client is a registered relying party.
type Client struct {
	ID string
	// RedirectURIs must match the request's redirect_uri exactly (native
	// clients may use any port on a registered loopback URI).
	RedirectURIs []string
	// PostLogoutRedirectURIs are allowed end_session redirects.
	PostLogoutRedirectURIs []string
	// Secret authenticates a confidential client (client_secret_basic).
	// Empty means a public client, which must use PKCE with S256.
	Secret string
	// Native marks a native (installed) app: loopback and custom-scheme
	// redirect URIs are allowed. Otherwise the client is a web app.
	Native bool
	// RefreshTokens allows the refresh_token grant: a code flow with the
	// offline_access scope also returns a refresh token (rotated on every
	// use; see opStore.CreateAccessAndRefreshTokens).
	RefreshTokens bool
}

// Config configures the provider.
type Config struct {
	// IssuerURL is the provider's public URL (https unless AllowInsecure).
	// The handler serves paths relative to it: mount it with
	// http.StripPrefix when the issuer has a path.
	IssuerURL string
	Accounts  account.Store
	Clients   []Client
	// CryptoKey encrypts op's opaque values (e.g. token ids); keep it secret
	// and stable across restarts and replicas.
	CryptoKey [32]byte
	// AccessTTL is the access (and ID) token lifetime; default 15 minutes.
	AccessTTL time.Duration
	// RotateEvery is how long a new signing key signs (when the provider has
	// to create one); use the same value as auth.Issuer. Default 24 hours.
	RotateEvery time.Duration
	// Audience, when set, is added to every token's audience so access
	// tokens verify with an auth.Verifier configured for the API audience.
	Audience string
	// AllowInsecure permits an http issuer (local development only).
	AllowInsecure bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

const (
	loginPath      = "/login"
	loggedOutPath  = "/logged-out"
	authRequestTTL = 10 * time.Minute
	codeTTL        = time.Minute
)

// New returns the provider's handler: op's endpoints (discovery at
// /.well-known/openid-configuration, /authorize, /oauth/token, /userinfo,
// /keys, /revoke, /end_session, ...), the sign-in page at /login and the
// page end_session redirects to when the client names no (registered)
// post_logout_redirect_uri, /logged-out.
func New(cfg Config) (http.Handler, error) {
	if cfg.Accounts == nil {
		return nil, errors.New("oidcop: no account store")
	}
	if cfg.IssuerURL == "" {
		return nil, errors.New("oidcop: no issuer URL")
	}
	if cfg.CryptoKey == ([32]byte{}) {
		return nil, errors.New("oidcop: crypto key is all zero")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RotateEvery <= 0 {
		cfg.RotateEvery = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	iss, err := url.Parse(cfg.IssuerURL)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("oidcop: bad issuer URL %q", cfg.IssuerURL)
	}
	issuer := strings.TrimSuffix(cfg.IssuerURL, "/")

	clients := make(map[string]*client, len(cfg.Clients))
	refresh := false
	for _, c := range cfg.Clients {
		refresh = refresh || c.RefreshTokens
		if c.ID == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("oidcop: client %q needs an id and a redirect URI", c.ID)
		}
		if _, dup := clients[c.ID]; dup {
			return nil, fmt.Errorf("oidcop: duplicate client %q", c.ID)
		}
		clients[c.ID] = &client{Client: c, loginURL: issuer + loginPath, ttl: cfg.AccessTTL}
	}

	st := newOPStore(cfg, clients)
	// Authenticated encryption only: op's default also decrypts with legacy
	// AES-CFB, which "decrypts" any string — at /revoke a refresh token sent
	// with token_type_hint=access_token could then pass for an access-token
	// id and escape revocation. Nothing was ever encrypted with CFB here.
	opts := []op.Option{op.WithCrypto(op.NewAES256GCMCrypto(cfg.CryptoKey, ""))}
	if cfg.AllowInsecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	scopes := []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}
	if refresh {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cfg.CryptoKey,
		CodeMethodS256:           true,
		GrantTypeRefreshToken:    refresh,
		DefaultLogoutRedirectURI: issuer + loggedOutPath,
		SupportedScopes:          scopes,
		SupportedClaims: append(append([]string{}, op.DefaultSupportedClaims...),
			"preferred_username", "email", "email_verified"),
	}, st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidcop: %w", err)
	}

	lp := &loginPage{
		store:    st,
		signIns:  &auth.SignIns{Accounts: cfg.Accounts, Now: cfg.Now},
		callback: op.AuthCallbackURL(provider),
		secure:   iss.Scheme == "https",
	}
	mux := http.NewServeMux()
	mux.Handle(loginPath, op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler(lp))
	mux.HandleFunc(loggedOutPath, loggedOut)
	mux.Handle("/", provider)
	return mux, nil
}

// client adapts a registered Client to op.Client.
type client struct {
	Client
	loginURL string
	ttl      time.Duration
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.Native {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *client) public() bool { return c.Secret == "" }
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	if c.RefreshTokens {
		return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	}
	return []oidc.GrantType{oidc.GrantTypeCode}
}
func (c *client) LoginURL(id string) string { return c.loginURL + "?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeJWT
}
func (c *client) IDTokenLifetime() time.Duration { return c.ttl }
func (c *client) DevMode() bool                  { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (c *client) checkSecret(secret string) bool {
	return !c.public() && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) == 1
}

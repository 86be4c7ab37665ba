package oidcop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ejazz/ejazz/internal/account"
)

// authRequest is one authorization request, from /authorize to the code
// exchange. Values handed to op are copies; the stored one is only changed
// under memStore.mu.
type authRequest struct {
	id          string
	createdAt   time.Time
	req         oidc.AuthRequest
	audience    []string
	csrf        string // sign-in form token, set when the page is first shown
	subject     string
	authTime    time.Time
	done        bool
	code        string
	codeExpires time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string  { return a.audience }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.req.ClientID }
func (a *authRequest) GetNonce() string       { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.req.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.req.Scopes }
func (a *authRequest) GetState() string       { return a.req.State }
func (a *authRequest) GetSubject() string     { return a.subject }
func (a *authRequest) Done() bool             { return a.done }
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return a.req.ResponseMode
}
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return a.req.ResponseType
}
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

// accessToken records an issued access token (its jti) for userinfo,
// introspection and revocation.
type accessToken struct {
	subject  string
	clientID string
	scopes   []string
	expires  time.Time
}

// memStore implements op.Storage with in-memory auth requests, codes and
// access-token records (a mutex-protected map, swept on access).
//
// TODO: move auth requests, codes and token records to the account store so
// several replicas can serve the provider.
type memStore struct {
	accounts account.Store
	clients  map[string]*client
	keys     *keyring
	audience string
	ttl      time.Duration
	now      func() time.Time

	mu        sync.Mutex
	requests  map[string]*authRequest
	codes     map[string]string // code -> request id
	tokens    map[string]accessToken
	lastSweep time.Time
}

var _ op.Storage = (*memStore)(nil)

func newMemStore(cfg Config, clients map[string]*client) *memStore {
	return &memStore{
		accounts: cfg.Accounts,
		clients:  clients,
		keys:     &keyring{keys: cfg.Accounts, ttl: cfg.AccessTTL, rotateEvery: cfg.RotateEvery, now: cfg.Now},
		audience: cfg.Audience,
		ttl:      cfg.AccessTTL,
		now:      cfg.Now,
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		tokens:   map[string]accessToken{},
	}
}

// notFound satisfies op.StorageNotFoundError.
type notFound struct{ what string }

func (e notFound) Error() string { return e.what + " not found" }
func (notFound) IsNotFound()     {}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sweep drops expired entries; call with mu held.
func (s *memStore) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < 30*time.Second {
		return
	}
	s.lastSweep = now
	for id, r := range s.requests {
		if now.Sub(r.createdAt) > authRequestTTL {
			delete(s.requests, id)
			if r.code != "" {
				delete(s.codes, r.code)
			}
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
}

// live returns the stored request if it has not expired; call with mu held.
func (s *memStore) live(id string, now time.Time) (*authRequest, bool) {
	r, ok := s.requests[id]
	if !ok || now.Sub(r.createdAt) > authRequestTTL {
		return nil, false
	}
	return r, true
}

func (s *memStore) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, ok := s.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c.public() && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (S256) is required for this client")
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	aud := []string{req.ClientID}
	if s.audience != "" && s.audience != req.ClientID {
		aud = append(aud, s.audience)
	}
	now := s.now()
	r := &authRequest{id: id, createdAt: now, req: *req, audience: aud}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.requests[id] = r
	cp := *r
	return &cp, nil
}

func (s *memStore) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(id, s.now())
	if !ok {
		return nil, notFound{"auth request"}
	}
	cp := *r
	return &cp, nil
}

func (s *memStore) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	id, ok := s.codes[code]
	if !ok {
		return nil, notFound{"code"}
	}
	r, ok := s.live(id, now)
	if !ok || !r.done || now.After(r.codeExpires) {
		return nil, notFound{"code"}
	}
	cp := *r
	return &cp, nil
}

func (s *memStore) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(id, s.now())
	if !ok {
		return notFound{"auth request"}
	}
	if r.code != "" {
		delete(s.codes, r.code)
	}
	r.code, r.codeExpires = code, s.now().Add(codeTTL)
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called once the code is exchanged (codes are single use).
func (s *memStore) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.requests[id]; ok && r.code != "" {
		delete(s.codes, r.code)
	}
	delete(s.requests, id)
	return nil
}

// csrfToken returns the request's sign-in form token, making it on first use.
func (s *memStore) csrfToken(id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(id, s.now())
	if !ok || r.done {
		return "", notFound{"auth request"}
	}
	if r.csrf == "" {
		t, err := randomID()
		if err != nil {
			return "", err
		}
		r.csrf = t
	}
	return r.csrf, nil
}

// pending returns a copy of a live, not yet completed request.
func (s *memStore) pending(id string) (authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(id, s.now())
	if !ok || r.done {
		return authRequest{}, false
	}
	return *r, true
}

// complete marks the request authenticated as subject.
func (s *memStore) complete(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(id, s.now())
	if !ok || r.done {
		return notFound{"auth request"}
	}
	r.subject, r.authTime, r.done = subject, s.now().UTC(), true
	r.csrf = "" // the form cannot be replayed
	return nil
}

func (s *memStore) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	var clientID string
	if ar, ok := req.(*authRequest); ok {
		clientID = ar.GetClientID()
	}
	id := uuid.NewString()
	exp := s.now().Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[id] = accessToken{subject: req.GetSubject(), clientID: clientID, scopes: req.GetScopes(), expires: exp}
	return id, exp, nil
}

var errNoRefresh = errors.New("refresh tokens are not supported")

func (s *memStore) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNoRefresh
}

func (s *memStore) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *memStore) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession drops the user's access-token records for the client
// (their JWTs stay valid for auth.Verifier until they expire).
func (s *memStore) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.tokens, id)
		}
	}
	return nil
}

func (s *memStore) RevokeToken(_ context.Context, tokenID, userID, clientID string) *oidc.Error {
	if userID == "" {
		return nil // a refresh token: none are issued, nothing to revoke
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok {
		return nil // unknown or expired: success per RFC 7009
	}
	if t.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	delete(s.tokens, tokenID)
	return nil
}

func (s *memStore) token(id, subject string) (accessToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || t.subject != subject || s.now().After(t.expires) {
		return accessToken{}, false
	}
	return t, true
}

func (s *memStore) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.keys.signingKey(ctx)
}

func (s *memStore) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *memStore) KeySet(ctx context.Context) ([]op.Key, error) {
	return s.keys.keySet(ctx)
}

func (s *memStore) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, notFound{"client"}
	}
	return c, nil
}

func (s *memStore) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.clients[id]
	if !ok || !c.checkSecret(secret) {
		return errors.New("invalid client credentials")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest is used.
func (s *memStore) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills ID-token claims (only asked for when the
// client wants userinfo claims in the ID token).
func (s *memStore) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.fillUserinfo(ctx, info, req.GetSubject(), scopes)
}

func (s *memStore) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, ok := s.token(tokenID, subject)
	if !ok {
		return errors.New("access token revoked or expired")
	}
	return s.fillUserinfo(ctx, info, subject, t.scopes)
}

func (s *memStore) fillUserinfo(ctx context.Context, info *oidc.UserInfo, subject string, scopes []string) error {
	a, err := s.accounts.Get(ctx, subject)
	if err != nil {
		return err
	}
	info.Subject = a.ID
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = a.Handle
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = a.Email
		info.EmailVerified = oidc.Bool(a.Verified())
	}
	return nil
}

func (s *memStore) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, ok := s.token(tokenID, subject)
	if !ok || t.clientID != clientID {
		// Unknown, revoked, expired, or another client's token: inactive.
		return errors.New("access token revoked or expired")
	}
	var info oidc.UserInfo
	if err := s.fillUserinfo(ctx, &info, subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(&info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	return nil
}

// GetPrivateClaimsFromScopes adds the account's roles to access tokens, as
// auth.Issuer does, so auth.Verifier sees them.
func (s *memStore) GetPrivateClaimsFromScopes(ctx context.Context, userID, _ string, _ []string) (map[string]any, error) {
	roles, err := s.accounts.Roles(ctx, userID)
	if err != nil || len(roles) == 0 {
		return nil, err
	}
	return map[string]any{"roles": roles}, nil
}

func (s *memStore) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt profile is not supported")
}

func (s *memStore) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile is not supported")
}

func (s *memStore) Health(ctx context.Context) error { return s.accounts.Ping(ctx) }

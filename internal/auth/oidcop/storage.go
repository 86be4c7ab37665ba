package oidcop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storage"
)

// Record kinds in the account store's OIDC records.
const (
	kindAuthRequest  = "oidc_auth_request"
	kindAccessToken  = "oidc_access_token"
	kindRefreshGrant = "oidc_refresh_grant"
	kindTerminated   = "oidc_session_terminated"
)

// refreshIDPrefix marks the token ids GetRefreshTokenInfo hands to
// RevokeToken (access-token ids are UUIDs).
const refreshIDPrefix = "refresh:"

// authRequest is one authorization request, from /authorize to the code
// exchange, stored as JSON in the account store (kind kindAuthRequest, id
// ID) until CreatedAt+authRequestTTL. Values handed to op are decoded copies.
type authRequest struct {
	ID                  string                   `json:"id"`
	CreatedAt           time.Time                `json:"created_at"`
	ClientID            string                   `json:"client_id"`
	RedirectURI         string                   `json:"redirect_uri"`
	Scopes              []string                 `json:"scopes,omitempty"`
	State               string                   `json:"state,omitempty"`
	Nonce               string                   `json:"nonce,omitempty"`
	ResponseType        oidc.ResponseType        `json:"response_type,omitempty"`
	ResponseMode        oidc.ResponseMode        `json:"response_mode,omitempty"`
	CodeChallenge       string                   `json:"code_challenge,omitempty"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"code_challenge_method,omitempty"`
	Audience            []string                 `json:"audience,omitempty"`
	// CSRF is the sign-in form token, made with the request.
	CSRF     string    `json:"csrf,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	// PendingSubject is the account whose password the sign-in page
	// accepted while its TOTP code is still due (the page's second step).
	PendingSubject string `json:"pending_subject,omitempty"`
	// Completed is set once the user signed in.
	Completed bool `json:"completed,omitempty"`
	// CodeHash is the hash (codeKey) of the last code issued; only that code
	// is accepted.
	CodeHash    string    `json:"code_hash,omitempty"`
	CodeExpires time.Time `json:"code_expires,omitzero"`
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string          { return a.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string  { return a.Audience }
func (a *authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetNonce() string       { return a.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.Scopes }
func (a *authRequest) GetState() string       { return a.State }
func (a *authRequest) GetSubject() string     { return a.Subject }
func (a *authRequest) Done() bool             { return a.Completed }
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return a.ResponseMode
}
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return a.ResponseType
}
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

// accessToken records an issued access token (its jti) for userinfo,
// introspection and revocation; stored as JSON (kind kindAccessToken, id the
// jti) until it expires.
type accessToken struct {
	Subject  string    `json:"subject"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires"`
}

// refreshGrant is what the provider keeps about a refresh token it issued
// besides the account store's session (the token's hash in its family): the
// grant the token continues. Stored as JSON (kind kindRefreshGrant, id the
// token's hash) until the token expires; each rotation stores a copy for the
// next token. A spent token's record stays until it expires, so presenting
// it again reaches the store's reuse detection, which revokes the family.
type refreshGrant struct {
	Subject  string    `json:"subject"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes,omitempty"`
	Audience []string  `json:"audience,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	AMR      []string  `json:"amr,omitempty"`
}

// refreshRequest is the op.RefreshTokenRequest of a presented refresh token.
type refreshRequest struct {
	refreshGrant
	hash    string   // of the presented token
	current []string // scopes asked for in this refresh (a subset), if any
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return r.AMR }
func (r *refreshRequest) GetAudience() []string  { return r.Audience }
func (r *refreshRequest) GetAuthTime() time.Time { return r.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.ClientID }
func (r *refreshRequest) GetSubject() string     { return r.Subject }
func (r *refreshRequest) GetScopes() []string {
	if r.current != nil {
		return r.current
	}
	return r.Scopes
}
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.current = scopes }

// opStore implements op.Storage on the account store: auth requests, codes
// and access-token records are account.OIDCStore records, so every replica
// sharing the store (and the CryptoKey) can serve any step of a flow.
//
// Updates of an auth request are read-modify-write: two concurrent sign-ins
// posted for one request (same browser: they need its CSRF cookie) may both
// complete it, the last one winning; codes stay single use, as
// AuthRequestByCode takes the code atomically.
type opStore struct {
	accounts account.Store
	clients  map[string]*client
	keys     *keyring
	audience string
	ttl      time.Duration
	now      func() time.Time
}

var _ op.Storage = (*opStore)(nil)

func newOPStore(cfg Config, clients map[string]*client) *opStore {
	return &opStore{
		accounts: cfg.Accounts,
		clients:  clients,
		keys:     &keyring{keys: cfg.Accounts, ttl: cfg.AccessTTL, rotateEvery: cfg.RotateEvery, now: cfg.Now},
		audience: cfg.Audience,
		ttl:      cfg.AccessTTL,
		now:      cfg.Now,
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

// codeKey is what the store keeps of a code: its SHA-256, so a database
// read does not yield usable codes.
func codeKey(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

// terminatedKey names the session-termination marker of a user at a client.
func terminatedKey(userID, clientID string) string {
	return fmt.Sprintf("%d:%s:%s", len(clientID), clientID, userID)
}

// load returns the stored request if it has not expired; notFound otherwise.
func (s *opStore) load(ctx context.Context, id string, now time.Time) (*authRequest, error) {
	if id == "" {
		return nil, notFound{"auth request"}
	}
	data, err := s.accounts.GetOIDCRecord(ctx, kindAuthRequest, id, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound{"auth request"}
	}
	if err != nil {
		return nil, err
	}
	var r authRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("oidcop: stored auth request: %w", err)
	}
	if r.ID != id || now.Sub(r.CreatedAt) > authRequestTTL {
		return nil, notFound{"auth request"}
	}
	return &r, nil
}

// save stores r until it expires.
func (s *opStore) save(ctx context.Context, r *authRequest) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.accounts.PutOIDCRecord(ctx, kindAuthRequest, r.ID, data, r.CreatedAt.Add(authRequestTTL))
}

func (s *opStore) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
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
	csrf, err := randomID()
	if err != nil {
		return nil, err
	}
	aud := []string{req.ClientID}
	if s.audience != "" && s.audience != req.ClientID {
		aud = append(aud, s.audience)
	}
	r := &authRequest{
		ID: id, CreatedAt: s.now().UTC(),
		ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes,
		State: req.State, Nonce: req.Nonce, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: req.CodeChallengeMethod,
		Audience: aud, CSRF: csrf,
	}
	if err := s.save(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *opStore) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.load(ctx, id, s.now())
}

// AuthRequestByCode takes the code (op calls it once per exchange), so a
// code is exchanged at most once even across replicas; a failed exchange
// (e.g. a wrong PKCE verifier) uses it up too.
func (s *opStore) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	now := s.now()
	key := codeKey(code)
	id, err := s.accounts.TakeOIDCCode(ctx, key, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound{"code"}
	}
	if err != nil {
		return nil, err
	}
	r, err := s.load(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if !r.Completed || r.CodeHash != key || now.After(r.CodeExpires) {
		return nil, notFound{"code"}
	}
	return r, nil
}

func (s *opStore) SaveAuthCode(ctx context.Context, id, code string) error {
	now := s.now()
	r, err := s.load(ctx, id, now)
	if err != nil {
		return err
	}
	r.CodeHash, r.CodeExpires = codeKey(code), now.UTC().Add(codeTTL)
	if err := s.save(ctx, r); err != nil {
		return err
	}
	return s.accounts.PutOIDCCode(ctx, r.CodeHash, id, r.CodeExpires)
}

// DeleteAuthRequest is called once the code is exchanged (the code itself
// was taken by AuthRequestByCode).
func (s *opStore) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.accounts.DeleteOIDCRecord(ctx, kindAuthRequest, id)
}

// pending returns a live, not yet completed request.
func (s *opStore) pending(ctx context.Context, id string) (*authRequest, bool) {
	r, err := s.load(ctx, id, s.now())
	if err != nil || r.Completed {
		return nil, false
	}
	return r, true
}

// awaitCode records that subject's password was accepted on the pending
// request and its TOTP code is due.
func (s *opStore) awaitCode(ctx context.Context, id, subject string) error {
	r, err := s.load(ctx, id, s.now())
	if err != nil {
		return err
	}
	if r.Completed {
		return notFound{"auth request"}
	}
	r.PendingSubject = subject
	return s.save(ctx, r)
}

// complete marks the request authenticated as subject.
func (s *opStore) complete(ctx context.Context, id, subject string) error {
	now := s.now()
	r, err := s.load(ctx, id, now)
	if err != nil {
		return err
	}
	if r.Completed {
		return notFound{"auth request"}
	}
	r.Subject, r.AuthTime, r.Completed = subject, now.UTC(), true
	r.PendingSubject = ""
	r.CSRF = "" // the form cannot be replayed
	return s.save(ctx, r)
}

func (s *opStore) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	return s.newAccessToken(ctx, req.GetSubject(), clientOf(req), req.GetScopes())
}

// clientOf is the client a token request is for.
func clientOf(req op.TokenRequest) string {
	if r, ok := req.(interface{ GetClientID() string }); ok {
		return r.GetClientID()
	}
	return ""
}

// newAccessToken stores the record of a new access token (its jti) and
// returns its id and expiry.
func (s *opStore) newAccessToken(ctx context.Context, subject, clientID string, scopes []string) (string, time.Time, error) {
	id := uuid.NewString()
	now := s.now().UTC()
	exp := now.Add(s.ttl)
	data, err := json.Marshal(accessToken{Subject: subject, ClientID: clientID, Scopes: scopes, IssuedAt: now, Expires: exp})
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.accounts.PutOIDCRecord(ctx, kindAccessToken, id, data, exp); err != nil {
		return "", time.Time{}, serverError(err)
	}
	return id, exp, nil
}

// serverError hides a storage failure's details from the client (op
// otherwise sends err.Error() as the error_description); op logs the parent.
func serverError(err error) *oidc.Error {
	return oidc.ErrServerError().WithParent(err).WithDescription("the service is temporarily unavailable; retry")
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token:
// for a code exchange with offline_access (req is the auth request) it
// starts a session (a refresh-token family in the account store, as
// AuthService.SignIn does); for the refresh_token grant (req comes from
// TokenRequestByRefreshToken) it rotates currentRefreshToken with
// auth.RotateSession, as AuthService.RefreshToken does: the presented token
// is spent, and presenting a spent token again revokes its whole family.
func (s *opStore) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	now := s.now().UTC()
	var (
		grant   refreshGrant
		refresh string
		next    account.RefreshToken
		err     error
	)
	switch r := req.(type) {
	case *authRequest:
		grant = refreshGrant{Subject: r.Subject, ClientID: r.ClientID, Scopes: r.Scopes, Audience: r.Audience, AuthTime: r.AuthTime, AMR: r.GetAMR()}
		refresh, next, err = auth.StartSession(ctx, s.accounts, r.Subject, now)
		if err != nil {
			return "", "", time.Time{}, serverError(err)
		}
	case *refreshRequest:
		if currentRefreshToken == "" || auth.HashSecret(currentRefreshToken) != r.hash {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("%s", auth.ErrSessionInvalid)
		}
		grant = r.refreshGrant // the original scopes: a narrower refresh narrows only its access token
		refresh, next, err = auth.RotateSession(ctx, s.accounts, currentRefreshToken, now)
		switch {
		case errors.Is(err, auth.ErrSessionReused):
			slog.WarnContext(ctx, "oidcop: refresh token reuse: session family revoked", "client_id", r.ClientID)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("%s", err)
		case errors.Is(err, auth.ErrSessionInvalid):
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("%s", err)
		case err != nil:
			return "", "", time.Time{}, serverError(err)
		}
		if next.AccountID != grant.Subject { // cannot happen: the grant was stored for this family
			_ = s.accounts.RevokeFamily(ctx, next.Hash)
			return "", "", time.Time{}, serverError(fmt.Errorf("oidcop: refresh family of %s carries a grant of %s", next.AccountID, grant.Subject))
		}
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	data, err := json.Marshal(grant)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if err := s.accounts.PutOIDCRecord(ctx, kindRefreshGrant, next.Hash, data, next.ExpiresAt); err != nil {
		return "", "", time.Time{}, serverError(err)
	}
	id, exp, err := s.newAccessToken(ctx, grant.Subject, grant.ClientID, req.GetScopes())
	if err != nil {
		return "", "", time.Time{}, err
	}
	return id, refresh, exp, nil
}

// grant returns the stored grant of the refresh token with hash, or
// op.ErrInvalidRefreshToken when there is none (never issued by the
// provider, or expired).
func (s *opStore) grant(ctx context.Context, hash string) (refreshGrant, error) {
	data, err := s.accounts.GetOIDCRecord(ctx, kindRefreshGrant, hash, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return refreshGrant{}, op.ErrInvalidRefreshToken
	}
	if err != nil {
		return refreshGrant{}, err
	}
	var g refreshGrant
	if err := json.Unmarshal(data, &g); err != nil {
		return refreshGrant{}, fmt.Errorf("oidcop: stored refresh grant: %w", err)
	}
	return g, nil
}

// TokenRequestByRefreshToken returns the grant a refresh token continues.
// It does not spend the token: op checks the client and the scopes first,
// then CreateAccessAndRefreshTokens rotates it, so a refused request (say,
// a broader scope) leaves the session usable. A token whose user ended the
// session at this client (end_session) after signing in is refused and its
// family revoked.
func (s *opStore) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	if token == "" || len(token) > auth.MaxRefreshTokenLen {
		return nil, op.ErrInvalidRefreshToken
	}
	hash := auth.HashSecret(token)
	g, err := s.grant(ctx, hash)
	if err != nil {
		return nil, err
	}
	ended, err := s.terminatedAt(ctx, g.Subject, g.ClientID, s.now())
	if err != nil {
		return nil, err
	}
	if !ended.IsZero() && !g.AuthTime.After(ended) {
		if err := s.accounts.RevokeFamily(ctx, hash); err != nil {
			return nil, err
		}
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{refreshGrant: g, hash: hash}, nil
}

// GetRefreshTokenInfo identifies a refresh token for revocation:
// op.ErrInvalidRefreshToken when the provider did not issue it (op then
// tries it as an access token).
func (s *opStore) GetRefreshTokenInfo(ctx context.Context, _ string, token string) (string, string, error) {
	if token == "" || len(token) > auth.MaxRefreshTokenLen {
		return "", "", op.ErrInvalidRefreshToken
	}
	hash := auth.HashSecret(token)
	g, err := s.grant(ctx, hash)
	if err != nil {
		return "", "", err
	}
	return g.Subject, refreshIDPrefix + hash, nil
}

// TerminateSession ends the user's sessions at the client (end_session):
// access-token records issued until now stop working for userinfo and
// introspection (their JWTs stay valid for auth.Verifier until they expire),
// and refresh tokens of sign-ins until now are refused (their family is
// revoked when next presented). It stores a marker that outlives every such
// token. Without a user (no id_token_hint) there is nothing to end.
func (s *opStore) TerminateSession(ctx context.Context, userID, clientID string) error {
	if userID == "" {
		return nil
	}
	now := s.now().UTC()
	data, err := json.Marshal(now)
	if err != nil {
		return err
	}
	return s.accounts.PutOIDCRecord(ctx, kindTerminated, terminatedKey(userID, clientID), data, now.Add(max(s.ttl, auth.RefreshTTL)+time.Minute))
}

// RevokeToken revokes an access token (its record) or a refresh token (its
// whole session family, like AuthService.SignOut). Unknown tokens succeed,
// per RFC 7009; another client's token is invalid_client.
func (s *opStore) RevokeToken(ctx context.Context, tokenID, userID, clientID string) *oidc.Error {
	switch {
	case userID == "":
		// op could not identify the token: it may be a refresh token sent
		// with token_type_hint=access_token.
		return s.revokeRefresh(ctx, auth.HashSecret(tokenID), clientID)
	case strings.HasPrefix(tokenID, refreshIDPrefix):
		return s.revokeRefresh(ctx, strings.TrimPrefix(tokenID, refreshIDPrefix), clientID)
	}
	t, err := s.token(ctx, tokenID, userID)
	if errors.Is(err, errTokenGone) {
		return nil // unknown or expired: success per RFC 7009
	}
	if err != nil {
		return serverError(err)
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	if err := s.accounts.DeleteOIDCRecord(ctx, kindAccessToken, tokenID); err != nil {
		return serverError(err)
	}
	return nil
}

// revokeRefresh revokes the family of the refresh token with hash.
func (s *opStore) revokeRefresh(ctx context.Context, hash, clientID string) *oidc.Error {
	g, err := s.grant(ctx, hash)
	if errors.Is(err, op.ErrInvalidRefreshToken) {
		return nil
	}
	if err != nil {
		return serverError(err)
	}
	if g.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	if err := s.accounts.RevokeFamily(ctx, hash); err != nil {
		return serverError(err)
	}
	return nil
}

var errTokenGone = errors.New("access token revoked or expired")

// token returns the live record of the subject's access token, or
// errTokenGone when it is unknown, expired, another subject's or its session
// was terminated.
func (s *opStore) token(ctx context.Context, id, subject string) (accessToken, error) {
	now := s.now()
	data, err := s.accounts.GetOIDCRecord(ctx, kindAccessToken, id, now)
	if errors.Is(err, storage.ErrNotFound) {
		return accessToken{}, errTokenGone
	}
	if err != nil {
		return accessToken{}, err
	}
	var t accessToken
	if err := json.Unmarshal(data, &t); err != nil {
		return accessToken{}, fmt.Errorf("oidcop: stored access token: %w", err)
	}
	if t.Subject != subject || now.After(t.Expires) {
		return accessToken{}, errTokenGone
	}
	ended, err := s.terminatedAt(ctx, t.Subject, t.ClientID, now)
	if err != nil {
		return accessToken{}, err
	}
	if !ended.IsZero() && !t.IssuedAt.After(ended) {
		return accessToken{}, errTokenGone
	}
	return t, nil
}

// terminatedAt is when the user last ended their session at the client
// (TerminateSession), or zero.
func (s *opStore) terminatedAt(ctx context.Context, userID, clientID string, now time.Time) (time.Time, error) {
	data, err := s.accounts.GetOIDCRecord(ctx, kindTerminated, terminatedKey(userID, clientID), now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, err
	}
	var at time.Time
	if err := json.Unmarshal(data, &at); err != nil {
		return time.Time{}, fmt.Errorf("oidcop: stored session termination: %w", err)
	}
	return at, nil
}

func (s *opStore) SigningKey(ctx context.Context) (op.SigningKey, error) {
	return s.keys.signingKey(ctx)
}

func (s *opStore) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *opStore) KeySet(ctx context.Context) ([]op.Key, error) {
	return s.keys.keySet(ctx)
}

func (s *opStore) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, notFound{"client"}
	}
	return c, nil
}

func (s *opStore) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.clients[id]
	if !ok || !c.checkSecret(secret) {
		return errors.New("invalid client credentials")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest is used.
func (s *opStore) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills ID-token claims (only asked for when the
// client wants userinfo claims in the ID token).
func (s *opStore) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.fillUserinfo(ctx, info, req.GetSubject(), scopes)
}

func (s *opStore) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.token(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	return s.fillUserinfo(ctx, info, subject, t.Scopes)
}

func (s *opStore) fillUserinfo(ctx context.Context, info *oidc.UserInfo, subject string, scopes []string) error {
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

func (s *opStore) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.token(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if t.ClientID != clientID {
		// Another client's token: inactive.
		return errTokenGone
	}
	var info oidc.UserInfo
	if err := s.fillUserinfo(ctx, &info, subject, t.Scopes); err != nil {
		return err
	}
	resp.SetUserInfo(&info)
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	return nil
}

// GetPrivateClaimsFromScopes adds the account's roles to access tokens, as
// auth.Issuer does, so auth.Verifier sees them.
func (s *opStore) GetPrivateClaimsFromScopes(ctx context.Context, userID, _ string, _ []string) (map[string]any, error) {
	roles, err := s.accounts.Roles(ctx, userID)
	if err != nil || len(roles) == 0 {
		return nil, err
	}
	return map[string]any{"roles": roles}, nil
}

func (s *opStore) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt profile is not supported")
}

func (s *opStore) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile is not supported")
}

func (s *opStore) Health(ctx context.Context) error { return s.accounts.Ping(ctx) }

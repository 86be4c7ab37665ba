package authapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storage"
)

// Sign-in policy.
const (
	// RefreshTTL is a refresh token's lifetime; rotation issues a new one.
	RefreshTTL = 30 * 24 * time.Hour
	// MaxSignInFailures within SignInFailureWindow throttle an account.
	MaxSignInFailures   = 5
	SignInFailureWindow = 15 * time.Minute
)

var errBadCredentials = errors.New("invalid identifier or password")

// dummyHash is verified against when the account does not exist, so an
// unknown user costs the same time as a wrong password.
var dummyHash, _ = auth.HashPassword("not the password of anyone", auth.DefaultArgon2)

// SignIn checks the identifier (email or handle) and password and returns an
// access token and a refresh token. Unknown user and wrong password give the
// same `unauthenticated`; an unverified email is failed_precondition; after
// MaxSignInFailures failures in SignInFailureWindow the account is throttled
// with resource_exhausted (the window slides: it frees itself). When the
// account has TOTP on, a missing code is `unauthenticated` saying a code is
// required, and a wrong or replayed code (or a used recovery code) is
// `unauthenticated` too; both count as failed attempts.
func (s *Service) SignIn(ctx context.Context, req *connect.Request[authv1.SignInRequest]) (*connect.Response[authv1.SignInResponse], error) {
	id, password := strings.TrimSpace(req.Msg.GetIdentifier()), req.Msg.GetPassword()
	if id == "" {
		return nil, invalid(&auth.FieldError{Field: "identifier", Reason: "is required"})
	}
	if password == "" {
		return nil, invalid(&auth.FieldError{Field: "password", Reason: "is required"})
	}
	var (
		acc account.Account
		err error
	)
	if strings.Contains(id, "@") {
		acc, err = s.Accounts.GetByEmail(ctx, auth.NormalizeEmail(id))
	} else {
		acc, err = s.Accounts.GetByHandle(ctx, id)
	}
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = auth.VerifyPassword(password, dummyHash)
		return nil, connect.NewError(connect.CodeUnauthenticated, errBadCredentials)
	}
	if err != nil {
		return nil, s.unavailable(ctx, "sign-in lookup", err)
	}
	// Every attempt counts until it succeeds, so a throttled account stays
	// throttled while someone keeps guessing, and frees itself after the window.
	failures, err := s.Accounts.RecordSignInFailure(ctx, acc.ID, timeNow(), SignInFailureWindow)
	if err != nil {
		return nil, s.unavailable(ctx, "record sign-in attempt", err)
	}
	if failures > MaxSignInFailures {
		cerr := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("too many failed sign-ins; retry in %d minutes", int(SignInFailureWindow.Minutes())))
		cerr.Meta().Set("Retry-After", fmt.Sprint(int(SignInFailureWindow.Seconds())))
		return nil, cerr
	}
	ok, err := auth.VerifyPassword(password, acc.PasswordHash)
	if err != nil {
		return nil, s.internal(ctx, "verify password", err)
	}
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errBadCredentials)
	}
	// Second factor, before the failures are cleared: a missing, wrong or
	// replayed TOTP code counts as a failed attempt (see checkSignInTOTP).
	if err := s.checkSignInTOTP(ctx, acc.ID, req.Msg.GetTotpCode()); err != nil {
		return nil, err
	}
	if err := s.Accounts.ClearSignInFailures(ctx, acc.ID); err != nil {
		return nil, s.unavailable(ctx, "clear sign-in failures", err)
	}
	if !acc.Verified() {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("verify your email address before signing in"))
	}
	refresh, err := auth.NewSecret()
	if err != nil {
		return nil, s.internal(ctx, "new refresh token", err)
	}
	now := timeNow()
	if err := s.Accounts.CreateRefreshToken(ctx, account.RefreshToken{
		Hash: auth.HashSecret(refresh), FamilyID: uuid.NewString(), AccountID: acc.ID, IssuedAt: now, ExpiresAt: now.Add(RefreshTTL),
	}); err != nil {
		return nil, s.unavailable(ctx, "create session", err)
	}
	access, ttl, err := s.issue(ctx, acc.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.SignInResponse{AccessToken: access, RefreshToken: refresh, ExpiresIn: int32(ttl.Seconds()), UserId: acc.ID}), nil
}

// RefreshToken rotates a refresh token: the old one is spent, a new one and
// a new access token are returned. Presenting a spent token again revokes
// the whole session family (theft detection).
func (s *Service) RefreshToken(ctx context.Context, req *connect.Request[authv1.RefreshTokenRequest]) (*connect.Response[authv1.RefreshTokenResponse], error) {
	old := req.Msg.GetRefreshToken()
	if old == "" || len(old) > 128 {
		return nil, invalid(&auth.FieldError{Field: "refresh_token", Reason: "is required"})
	}
	next, err := auth.NewSecret()
	if err != nil {
		return nil, s.internal(ctx, "new refresh token", err)
	}
	now := timeNow()
	tok, err := s.Accounts.RotateRefreshToken(ctx, auth.HashSecret(old), account.RefreshToken{Hash: auth.HashSecret(next), IssuedAt: now, ExpiresAt: now.Add(RefreshTTL)}, now)
	switch {
	case errors.Is(err, account.ErrReused):
		s.log().WarnContext(ctx, "refresh token reuse: session family revoked")
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("refresh token already used; the session was revoked, sign in again"))
	case errors.Is(err, account.ErrRevoked), errors.Is(err, account.ErrExpired), errors.Is(err, storage.ErrNotFound):
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("refresh token is invalid or expired; sign in again"))
	case err != nil:
		return nil, s.unavailable(ctx, "rotate refresh token", err)
	}
	access, ttl, err := s.issue(ctx, tok.AccountID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RefreshTokenResponse{AccessToken: access, RefreshToken: next, ExpiresIn: int32(ttl.Seconds()), UserId: tok.AccountID}), nil
}

// SignOut revokes the session family of the refresh token. Unknown tokens
// succeed too: signing out twice is not an error.
func (s *Service) SignOut(ctx context.Context, req *connect.Request[authv1.SignOutRequest]) (*connect.Response[authv1.SignOutResponse], error) {
	tok := req.Msg.GetRefreshToken()
	if tok == "" || len(tok) > 128 {
		return nil, invalid(&auth.FieldError{Field: "refresh_token", Reason: "is required"})
	}
	if err := s.Accounts.RevokeFamily(ctx, auth.HashSecret(tok)); err != nil {
		return nil, s.unavailable(ctx, "revoke session", err)
	}
	return connect.NewResponse(&authv1.SignOutResponse{}), nil
}

// issue signs an access token carrying the account's current roles (a role
// change reaches clients at their next refresh, within the token lifetime).
func (s *Service) issue(ctx context.Context, accountID string) (string, time.Duration, error) {
	roles, err := s.Accounts.Roles(ctx, accountID)
	if err != nil {
		return "", 0, s.unavailable(ctx, "read roles", err)
	}
	access, ttl, err := s.Tokens.Issue(ctx, accountID, roles)
	if err != nil {
		return "", 0, s.unavailable(ctx, "issue access token", err)
	}
	return access, ttl, nil
}

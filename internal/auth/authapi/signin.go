package authapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
)

// Sign-in policy (shared with the OpenID Provider's hosted sign-in page).
const (
	// RefreshTTL is a refresh token's lifetime; rotation issues a new one.
	RefreshTTL = auth.RefreshTTL
	// MaxSignInFailures within SignInFailureWindow throttle an account.
	MaxSignInFailures   = auth.MaxSignInFailures
	SignInFailureWindow = auth.SignInFailureWindow
)

// signIns is the shared sign-in check on the service's account store.
func (s *Service) signIns() *auth.SignIns {
	return &auth.SignIns{Accounts: s.Accounts, Now: timeNow}
}

// SignIn checks the identifier (email or handle) and password and returns an
// access token and a refresh token. Unknown user and wrong password give the
// same `unauthenticated`; an unverified email is failed_precondition; after
// MaxSignInFailures failures in SignInFailureWindow the account is throttled
// with resource_exhausted (the window slides: it frees itself). When the
// account has TOTP on, a missing code is `unauthenticated` saying a code is
// required, and a wrong or replayed code (or a used recovery code) is
// `unauthenticated` too; both count as failed attempts. The checks are
// auth.SignIns, which the hosted sign-in page shares.
func (s *Service) SignIn(ctx context.Context, req *connect.Request[authv1.SignInRequest]) (*connect.Response[authv1.SignInResponse], error) {
	id, password := strings.TrimSpace(req.Msg.GetIdentifier()), req.Msg.GetPassword()
	if id == "" {
		return nil, invalid(&auth.FieldError{Field: "identifier", Reason: "is required"})
	}
	if password == "" {
		return nil, invalid(&auth.FieldError{Field: "password", Reason: "is required"})
	}
	acc, err := s.signIns().SignIn(ctx, id, password, req.Msg.GetTotpCode())
	if err != nil {
		return nil, s.signInError(ctx, err)
	}
	refresh, _, err := auth.StartSession(ctx, s.Accounts, acc.ID, timeNow())
	if err != nil {
		return nil, s.unavailable(ctx, "create session", err)
	}
	access, ttl, err := s.issue(ctx, acc.ID)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, event.New(event.SignedIn, acc.ID, "", "", timeNow()))
	return connect.NewResponse(&authv1.SignInResponse{AccessToken: access, RefreshToken: refresh, ExpiresIn: int32(ttl.Seconds()), UserId: acc.ID}), nil
}

// signInError maps an auth.SignIns error to its Connect error: refusals keep
// their client-safe message; anything else is logged and hidden.
func (s *Service) signInError(ctx context.Context, err error) error {
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		cerr := connect.NewError(connect.CodeResourceExhausted, throttled)
		cerr.Meta().Set("Retry-After", fmt.Sprint(int(throttled.RetryAfter.Seconds())))
		return cerr
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrTOTPRequired), errors.Is(err, auth.ErrTOTPInvalid):
		return connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, auth.ErrUnverified):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return s.unavailable(ctx, "sign-in", err)
}

// RefreshToken rotates a refresh token: the old one is spent, a new one and
// a new access token are returned. Presenting a spent token again revokes
// the whole session family (theft detection). The rotation is
// auth.RotateSession, which the OpenID Provider's refresh grant shares.
func (s *Service) RefreshToken(ctx context.Context, req *connect.Request[authv1.RefreshTokenRequest]) (*connect.Response[authv1.RefreshTokenResponse], error) {
	old := req.Msg.GetRefreshToken()
	if old == "" || len(old) > auth.MaxRefreshTokenLen {
		return nil, invalid(&auth.FieldError{Field: "refresh_token", Reason: "is required"})
	}
	next, tok, err := auth.RotateSession(ctx, s.Accounts, old, timeNow())
	switch {
	case errors.Is(err, auth.ErrSessionReused):
		s.log().WarnContext(ctx, "refresh token reuse: session family revoked")
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, auth.ErrSessionInvalid):
		return nil, connect.NewError(connect.CodeUnauthenticated, err)
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
	if tok == "" || len(tok) > auth.MaxRefreshTokenLen {
		return nil, invalid(&auth.FieldError{Field: "refresh_token", Reason: "is required"})
	}
	if err := auth.EndSession(ctx, s.Accounts, tok); err != nil {
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

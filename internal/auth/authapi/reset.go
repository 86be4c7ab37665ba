package authapi

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/client"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/workflows"
)

// RequestPasswordReset starts (or nudges) the password reset workflow of the
// address. The answer is the same whether or not an account has it.
func (s *Service) RequestPasswordReset(ctx context.Context, req *connect.Request[authv1.RequestPasswordResetRequest]) (*connect.Response[authv1.RequestPasswordResetResponse], error) {
	email := auth.NormalizeEmail(req.Msg.GetEmail())
	if err := auth.ValidateEmail(email); err != nil {
		return nil, invalid(err)
	}
	_, err := s.Temporal.SignalWithStartWorkflow(ctx, workflows.PasswordResetWorkflowID(email), workflows.SignalResetRequested, nil,
		client.StartWorkflowOptions{ID: workflows.PasswordResetWorkflowID(email), TaskQueue: workflows.QueueAccounts},
		workflows.PasswordReset, &workflows.PasswordResetInput{Email: email})
	if err != nil {
		return nil, s.unavailable(ctx, "start password reset", err)
	}
	return connect.NewResponse(&authv1.RequestPasswordResetResponse{}), nil
}

// ResetPassword spends a reset token, sets the new password and revokes every
// session of the account. Unknown, used or expired tokens are failed_precondition.
func (s *Service) ResetPassword(ctx context.Context, req *connect.Request[authv1.ResetPasswordRequest]) (*connect.Response[authv1.ResetPasswordResponse], error) {
	secret, pw := req.Msg.GetToken(), req.Msg.GetNewPassword()
	if secret == "" || len(secret) > 128 {
		return nil, invalid(&auth.FieldError{Field: "token", Reason: "is required"})
	}
	// The policy's account-independent part is checked before the token is
	// spent, so a weak password does not burn it.
	if err := auth.ValidatePassword(pw, "", ""); err != nil {
		return nil, invalid(renameField(err, "new_password"))
	}
	tok, err := s.Accounts.ConsumeToken(ctx, account.TokenResetPassword, auth.HashSecret(secret), timeNow())
	switch {
	case errors.Is(err, account.ErrExpired):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the reset token has expired; request a new one"))
	case errors.Is(err, storage.ErrNotFound):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the reset token is invalid or already used"))
	case err != nil:
		return nil, s.unavailable(ctx, "consume reset token", err)
	}
	acc, err := s.Accounts.Get(ctx, tok.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the account no longer exists"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get account", err)
	}
	if err := auth.ValidatePassword(pw, acc.Handle, acc.Email); err != nil {
		return nil, invalid(renameField(err, "new_password"))
	}
	hash, err := auth.HashPassword(pw, s.Argon2)
	if err != nil {
		return nil, s.internal(ctx, "hash password", err)
	}
	if err := s.Accounts.SetPasswordHash(ctx, acc.ID, hash); err != nil {
		return nil, s.unavailable(ctx, "set password", err)
	}
	// A reset ends every session and unlocks a throttled account.
	if err := errors.Join(
		s.Accounts.RevokeAccountSessions(ctx, acc.ID),
		s.Accounts.DeleteTokens(ctx, acc.ID, account.TokenResetPassword),
		s.Accounts.ClearSignInFailures(ctx, acc.ID),
	); err != nil {
		return nil, s.unavailable(ctx, "after password reset", err)
	}
	if err := s.Temporal.SignalWorkflow(ctx, workflows.PasswordResetWorkflowID(acc.Email), "", workflows.SignalResetDone, nil); err != nil {
		s.log().DebugContext(ctx, "password reset workflow not signalled", "user_id", acc.ID, "err", err)
	}
	return connect.NewResponse(&authv1.ResetPasswordResponse{}), nil
}

// renameField reports a password FieldError under the request's field name.
func renameField(err error, field string) error {
	var fe *auth.FieldError
	if errors.As(err, &fe) && strings.HasPrefix(fe.Field, "password") {
		return &auth.FieldError{Field: field, Reason: fe.Reason}
	}
	return err
}

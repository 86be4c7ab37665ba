// Package authapi is the AuthService Connect handler: it validates requests,
// hashes passwords, and drives the registration workflow; errors become
// Connect codes here and only here.
package authapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/workflows"
)

// Service implements AuthService. RPCs not built yet answer `unimplemented`.
type Service struct {
	authv1connect.UnimplementedAuthServiceHandler
	Accounts account.Store
	Temporal client.Client
	Argon2   auth.Argon2Params
	// Tokens issues access tokens.
	Tokens *auth.Issuer
	// Events receives sign-up and sign-in events (analytics); nil drops them.
	Events event.Publisher
	Log    *slog.Logger
}

// publish hands events over without failing the request: they feed
// analytics only.
func (s *Service) publish(ctx context.Context, events ...event.Event) {
	if s.Events == nil {
		return
	}
	if err := s.Events.Publish(ctx, events...); err != nil {
		s.log().WarnContext(ctx, "publish account events", "err", err, "kind", string(events[0].Kind))
	}
}

var _ authv1connect.AuthServiceHandler = (*Service)(nil)

// SignUp validates the request and registers the user through the
// registration workflow (ID from the normalized email: a double submit gets
// the same user). Taken email or handle → already_exists naming the field.
func (s *Service) SignUp(ctx context.Context, req *connect.Request[authv1.SignUpRequest]) (*connect.Response[authv1.SignUpResponse], error) {
	m := req.Msg
	email := auth.NormalizeEmail(m.GetEmail())
	if err := errors.Join(
		auth.ValidateEmail(email),
		auth.ValidateHandle(m.GetHandle()),
		auth.ValidatePassword(m.GetPassword(), m.GetHandle(), email),
		auth.ValidateDisplayName(m.GetDisplayName()),
	); err != nil {
		return nil, invalid(err)
	}
	hash, err := auth.HashPassword(m.GetPassword(), s.Argon2)
	if err != nil {
		return nil, s.internal(ctx, "hash password", err)
	}
	id, err := uuid.NewV7() // time-ordered
	if err != nil {
		return nil, s.internal(ctx, "new user id", err)
	}
	start := s.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       workflows.RegistrationWorkflowID(email),
		TaskQueue:                workflows.QueueAccounts,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.Registration, &workflows.RegistrationInput{
		UserID: id.String(), Email: email, Handle: m.GetHandle(), DisplayName: m.GetDisplayName(), PasswordHash: hash,
	})
	upd, err := s.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: workflows.UpdateRegister, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err != nil {
		return nil, s.unavailable(ctx, "start registration", err)
	}
	var out workflows.RegistrationOutcome
	if err := upd.Get(ctx, &out); err != nil {
		return nil, s.unavailable(ctx, "registration", err)
	}
	if out.TakenField != "" {
		return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("%s is already taken", out.TakenField))
	}
	// One sign-up event per user, whichever submit reports it.
	s.publish(ctx, event.NewOnce(event.SignedUp, out.UserID, timeNow()))
	return connect.NewResponse(&authv1.SignUpResponse{UserId: out.UserID}), nil
}

// VerifyEmail consumes a verification token and marks the email verified.
// Unknown or used tokens and expired ones are failed_precondition.
func (s *Service) VerifyEmail(ctx context.Context, req *connect.Request[authv1.VerifyEmailRequest]) (*connect.Response[authv1.VerifyEmailResponse], error) {
	secret := req.Msg.GetToken()
	if secret == "" || len(secret) > 128 {
		return nil, invalid(&auth.FieldError{Field: "token", Reason: "is required"})
	}
	tok, err := s.Accounts.ConsumeToken(ctx, account.TokenVerifyEmail, auth.HashSecret(secret), timeNow())
	switch {
	case errors.Is(err, account.ErrExpired):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the verification token has expired; sign up again"))
	case errors.Is(err, storage.ErrNotFound):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the verification token is invalid or already used"))
	case err != nil:
		return nil, s.unavailable(ctx, "consume token", err)
	}
	acc, err := s.Accounts.Get(ctx, tok.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the account no longer exists; sign up again"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get account", err)
	}
	if err := s.Accounts.MarkVerified(ctx, acc.ID, timeNow()); err != nil {
		return nil, s.unavailable(ctx, "mark verified", err)
	}
	// Ends the registration workflow's wait; the account is verified either
	// way, so a missing or finished workflow is fine.
	if err := s.Temporal.SignalWorkflow(ctx, workflows.RegistrationWorkflowID(acc.Email), "", workflows.SignalEmailVerified, nil); err != nil {
		s.log().DebugContext(ctx, "registration workflow not signalled", "user_id", acc.ID, "err", err)
	}
	return connect.NewResponse(&authv1.VerifyEmailResponse{}), nil
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// invalid turns validation errors into one invalid_argument naming each field.
func invalid(err error) error {
	return connect.NewError(connect.CodeInvalidArgument, err)
}

func (s *Service) internal(ctx context.Context, what string, err error) error {
	s.log().ErrorContext(ctx, what, "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// unavailable reports an engine or Temporal failure without its details.
func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	s.log().ErrorContext(ctx, what, "err", err)
	return connect.NewError(connect.CodeUnavailable, errors.New("the service is temporarily unavailable; retry"))
}

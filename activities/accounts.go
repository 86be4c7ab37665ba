package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Accounts holds the registration and account activities.
type Accounts struct {
	Accounts account.Store
	Profiles profile.Store
	Graph    graph.Store
	Mail     mail.Mailer
	// PublicURL is the base of links in mails (e.g. https://ejazz.example).
	PublicURL string
}

// CreateAccountInput is a validated sign-up with its password already hashed.
type CreateAccountInput struct {
	UserID, Email, Handle, DisplayName, PasswordHash string
}

// CreateAccountResult is the created user, or the unique field that is taken.
type CreateAccountResult struct {
	UserID     string
	TakenField string
}

// CreateAccount creates the account, then the profile, then the user's node
// in the social graph; when the profile cannot be created because its handle
// is taken it removes the account again (compensation). Every create is
// idempotent, so a retried activity converges.
func (a *Accounts) CreateAccount(ctx context.Context, in CreateAccountInput) (*CreateAccountResult, error) {
	now := time.Now().UTC()
	err := a.Accounts.Create(ctx, account.Account{ID: in.UserID, Email: in.Email, Handle: in.Handle, PasswordHash: in.PasswordHash, CreatedAt: now})
	if field, ok := account.IsTaken(err); ok {
		return &CreateAccountResult{TakenField: field}, nil
	}
	if err != nil {
		return nil, err
	}
	err = a.Profiles.Create(ctx, profile.Profile{UserID: in.UserID, Handle: in.Handle, DisplayName: in.DisplayName, CreatedAt: now})
	if errors.Is(err, storage.ErrAlreadyExists) {
		if derr := a.Accounts.Delete(ctx, in.UserID); derr != nil {
			return nil, fmt.Errorf("compensate account %s: %w", in.UserID, derr)
		}
		return &CreateAccountResult{TakenField: "handle"}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := a.Graph.PutUser(ctx, in.UserID, false); err != nil {
		return nil, fmt.Errorf("graph node of %s: %w", in.UserID, err)
	}
	return &CreateAccountResult{UserID: in.UserID}, nil
}

// SendVerificationInput names who gets a verification mail.
type SendVerificationInput struct {
	UserID, Email, Handle string
	ExpiresAt             time.Time
	Reminder              bool
}

// SendVerification stores a fresh single-use token (hashed) and mails it.
// A retry after the mail left sends another valid token; earlier ones stay
// valid until ExpiresAt, so the user is never left with a dead link.
func (a *Accounts) SendVerification(ctx context.Context, in SendVerificationInput) error {
	secret, err := auth.NewSecret()
	if err != nil {
		return err
	}
	if err := a.Accounts.PutToken(ctx, account.Token{Hash: auth.HashSecret(secret), Kind: account.TokenVerifyEmail, AccountID: in.UserID, ExpiresAt: in.ExpiresAt}); err != nil {
		return err
	}
	subject := "Verify your Ejazz email address"
	intro := "Welcome to Ejazz, @" + in.Handle + "!"
	if in.Reminder {
		subject = "Reminder: verify your Ejazz email address"
		intro = "Your Ejazz account @" + in.Handle + " is waiting for you."
	}
	link := strings.TrimRight(a.PublicURL, "/") + "/verify-email?token=" + url.QueryEscape(secret)
	text := fmt.Sprintf("%s\n\nConfirm your address by opening this link:\n%s\n\nOr call VerifyEmail with this code:\n%s\n\nThe code expires on %s. If you did not sign up, ignore this mail.\n",
		intro, link, secret, in.ExpiresAt.UTC().Format("2 Jan 2006 15:04 MST"))
	activity.GetLogger(ctx).Info("sending verification mail", "user_id", in.UserID, "reminder", in.Reminder)
	return a.Mail.Send(ctx, mail.Message{To: []string{in.Email}, Subject: subject, Text: text})
}

// DeleteUnverified removes an account (with its profile and graph node) that
// is still unverified; it reports whether the account is gone (false: it was
// verified).
func (a *Accounts) DeleteUnverified(ctx context.Context, userID string) (bool, error) {
	acc, err := a.Accounts.Get(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return true, errors.Join(a.Graph.DeleteUser(ctx, userID), a.Profiles.Delete(ctx, userID))
	}
	if err != nil {
		return false, err
	}
	if acc.Verified() {
		return false, nil
	}
	if err := a.Graph.DeleteUser(ctx, userID); err != nil {
		return false, err
	}
	if err := a.Profiles.Delete(ctx, userID); err != nil {
		return false, err
	}
	return true, a.Accounts.Delete(ctx, userID)
}

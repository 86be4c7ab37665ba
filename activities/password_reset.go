package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/mail"
	"github.com/ejazz/ejazz/internal/storage"
)

// SendPasswordReset mails a single-use reset token to the account of email,
// valid until expiresAt. It reports whether such an account exists (no mail
// is sent otherwise).
func (a *Accounts) SendPasswordReset(ctx context.Context, email string, expiresAt time.Time) (bool, error) {
	acc, err := a.Accounts.GetByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	secret, err := auth.NewSecret()
	if err != nil {
		return false, err
	}
	if err := a.Accounts.PutToken(ctx, account.Token{Hash: auth.HashSecret(secret), Kind: account.TokenResetPassword, AccountID: acc.ID, ExpiresAt: expiresAt}); err != nil {
		return false, err
	}
	link := strings.TrimRight(a.PublicURL, "/") + "/reset-password?token=" + url.QueryEscape(secret)
	text := fmt.Sprintf("Someone asked to reset the password of your Ejazz account @%s.\n\nChoose a new password here:\n%s\n\nOr call ResetPassword with this code:\n%s\n\nThe code works once and expires on %s. If it was not you, ignore this mail: your password stays as it is.\n",
		acc.Handle, link, secret, expiresAt.UTC().Format("2 Jan 2006 15:04 MST"))
	return true, a.Mail.Send(ctx, mail.Message{To: []string{acc.Email}, Subject: "Reset your Ejazz password", Text: text})
}

// ExpireResetTokens deletes the unused reset tokens of the account of email.
func (a *Accounts) ExpireResetTokens(ctx context.Context, email string) error {
	acc, err := a.Accounts.GetByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return a.Accounts.DeleteTokens(ctx, acc.ID, account.TokenResetPassword)
}

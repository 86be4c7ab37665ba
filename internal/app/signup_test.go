package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storetest"
)

// mailReader returns the texts of the mails to an address, newest first.
type mailReader func(t testing.TB, to string) []string

// waitCode waits for a mail to `to` whose text matches re with a code not in
// seen, and returns that code.
func waitCode(t testing.TB, read mailReader, to string, re *regexp.Regexp, seen ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, text := range read(t, to) {
			if m := re.FindStringSubmatch(text); m != nil && !slices.Contains(seen, m[1]) {
				return m[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s matching %s", to, re)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

var resetRE = regexp.MustCompile(`ResetPassword with this code:\s+(\S+)`)

var codeRE = regexp.MustCompile(`VerifyEmail with this code:\s+(\S+)`)

// signUpFlow drives registration through the public API: validation,
// sign-up, the verification mail, verification, single use of the token,
// double submit and taken fields.
func signUpFlow(t *testing.T, base string, readMail mailReader) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base, connect.WithProtoJSON())
	handle := storetest.UniqueName("u")
	email := handle + "@Example.com"
	signUp := func(email, handle, password string) (*authv1.SignUpResponse, error) {
		res, err := c.SignUp(ctx, connect.NewRequest(&authv1.SignUpRequest{Email: email, Handle: handle, Password: password, DisplayName: "Ana Test"}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}

	// Bad input names the field.
	for _, tc := range []struct{ email, handle, password, field string }{
		{"not-an-email", handle, "correct horse battery", "email"},
		{email, "no", "correct horse battery", "handle"},
		{email, "admin", "correct horse battery", "handle"},
		{email, handle, "short", "password"},
		{email, handle, "password123", "password"},
	} {
		_, err := signUp(tc.email, tc.handle, tc.password)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("SignUp(%q, %q, %q) = %v, want invalid_argument naming %s", tc.email, tc.handle, tc.password, err, tc.field)
		}
	}

	first, err := signUp(email, handle, "correct horse battery")
	if err != nil || first.GetUserId() == "" {
		t.Fatalf("SignUp = %v, %v", first, err)
	}
	// A double submit (same normalized email) returns the same user.
	again, err := signUp(strings.ToUpper(email), handle, "correct horse battery")
	if err != nil || again.GetUserId() != first.GetUserId() {
		t.Fatalf("double submit = %v, %v; want user %s", again, err, first.GetUserId())
	}
	// The handle is taken for another email (case-insensitively).
	if _, err := signUp("other."+email, strings.ToUpper(handle), "correct horse battery"); connect.CodeOf(err) != connect.CodeAlreadyExists || !strings.Contains(err.Error(), "handle") {
		t.Fatalf("taken handle = %v, want already_exists naming handle", err)
	}

	m := []string{"", waitCode(t, readMail, strings.ToLower(email), codeRE)}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: m[1] + "x"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("VerifyEmail with a wrong token = %v, want failed_precondition", err)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: m[1]})); err != nil {
		t.Fatalf("VerifyEmail = %v", err)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: m[1]})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("VerifyEmail with a used token = %v, want failed_precondition", err)
	}
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("VerifyEmail without a token = %v, want invalid_argument", err)
	}
	sessionFlow(ctx, t, base, first.GetUserId(), handle, email)
	resetFlow(ctx, t, base, handle, strings.ToLower(email), readMail)

	// After verification the registration is over: the email stays taken.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := signUp(email, handle+"2", "correct horse battery")
		if connect.CodeOf(err) == connect.CodeAlreadyExists && strings.Contains(err.Error(), "email") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sign-up with a verified email = %v, want already_exists naming email", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// devMail reads the embedded profile's dev mailbox.
func devMail(base string) mailReader {
	return func(t testing.TB, to string) []string {
		t.Helper()
		var mails []struct {
			To   []string `json:"to"`
			Text string   `json:"text"`
		}
		getJSON(t, base+"/dev/mail.json", &mails)
		var out []string
		for _, m := range mails {
			if len(m.To) == 1 && m.To[0] == to {
				out = append(out, m.Text)
			}
		}
		return out
	}
}

// mailpit reads the dev/stack SMTP server's inbox over its HTTP API.
func mailpit(api string) mailReader {
	return func(t testing.TB, to string) []string {
		t.Helper()
		var found struct {
			Messages []struct {
				ID string `json:"ID"`
			} `json:"messages"`
		}
		getJSON(t, api+"/api/v1/search?query="+url.QueryEscape(fmt.Sprintf("to:%q", to)), &found)
		var out []string
		for _, m := range found.Messages {
			var msg struct {
				Text string `json:"Text"`
			}
			getJSON(t, api+"/api/v1/message/"+m.ID, &msg)
			out = append(out, msg.Text)
		}
		return out
	}
}

// resetFlow resets the password twice through the mailed codes: the first
// reset unlocks the throttled account, the second revokes the session made
// in between.
func resetFlow(ctx context.Context, t *testing.T, base, handle, email string, readMail mailReader) {
	t.Helper()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base)
	request := func(addr string) {
		if _, err := c.RequestPasswordReset(ctx, connect.NewRequest(&authv1.RequestPasswordResetRequest{Email: addr})); err != nil {
			t.Fatalf("RequestPasswordReset(%s) = %v", addr, err)
		}
	}
	request("nobody." + email) // same answer for an unknown address
	if _, err := c.RequestPasswordReset(ctx, connect.NewRequest(&authv1.RequestPasswordResetRequest{Email: "nope"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("RequestPasswordReset(nope) = %v, want invalid_argument", err)
	}
	request(strings.ToUpper(email))
	code1 := waitCode(t, readMail, email, resetRE)
	reset := func(code, pw string) error {
		_, err := c.ResetPassword(ctx, connect.NewRequest(&authv1.ResetPasswordRequest{Token: code, NewPassword: pw}))
		return err
	}
	if err := reset(code1, "short"); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "new_password") {
		t.Fatalf("weak new password = %v, want invalid_argument naming new_password", err)
	}
	if err := reset(code1, "a brand new passphrase"); err != nil {
		t.Fatalf("ResetPassword = %v", err)
	}
	if err := reset(code1, "another new passphrase"); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("reused reset code = %v, want failed_precondition", err)
	}
	in, err := c.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: handle, Password: "a brand new passphrase"}))
	if err != nil {
		t.Fatalf("sign-in with the new password (the reset also lifts throttling) = %v", err)
	}
	if _, err := c.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: handle, Password: "correct horse battery"})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("sign-in with the old password = %v", err)
	}
	request(email)
	code2 := waitCode(t, readMail, email, resetRE, code1)
	if err := reset(code2, "the third passphrase"); err != nil {
		t.Fatalf("second ResetPassword = %v", err)
	}
	if _, err := c.RefreshToken(ctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: in.Msg.GetRefreshToken()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("refresh after a password reset = %v, want unauthenticated (sessions revoked)", err)
	}
}

// sessionFlow signs in, uses the access token on another service, rotates
// the refresh token (and detects its reuse), signs out, and throttles
// repeated failures.
func sessionFlow(ctx context.Context, t *testing.T, base, userID, handle, email string) {
	t.Helper()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base)
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	signIn := func(id, pw string) (*authv1.SignInResponse, error) {
		res, err := c.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: id, Password: pw}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	// Wrong password and unknown user are the same answer.
	_, errWrong := signIn(handle, "not the password at all")
	_, errUnknown := signIn("nobody_"+handle, "correct horse battery")
	if connect.CodeOf(errWrong) != connect.CodeUnauthenticated || connect.CodeOf(errUnknown) != connect.CodeUnauthenticated ||
		connect.NewError(0, errWrong).Message() != connect.NewError(0, errUnknown).Message() {
		t.Fatalf("wrong password = %v, unknown user = %v; want the same unauthenticated", errWrong, errUnknown)
	}
	byHandle, err := signIn(strings.ToUpper(handle), "correct horse battery")
	if err != nil || byHandle.GetUserId() != userID || byHandle.GetAccessToken() == "" || byHandle.GetExpiresIn() != 900 {
		t.Fatalf("SignIn by handle = %v, %v", byHandle, err)
	}
	byEmail, err := signIn(email, "correct horse battery")
	if err != nil || byEmail.GetUserId() != userID {
		t.Fatalf("SignIn by email = %v, %v", byEmail, err)
	}

	// Any process can verify the token against the published JWKS.
	remote := &auth.Verifier{JWKS: auth.RemoteJWKS(base + "/.well-known/jwks.json"), IssuerURL: "http://127.0.0.1:8080", Audience: "ejazz"}
	if caller, err := remote.Verify(ctx, byHandle.GetAccessToken()); err != nil || caller.UserID != userID {
		t.Fatalf("verify against /.well-known/jwks.json = %+v, %v", caller, err)
	}

	// The access token works on the user service; without it UpdateProfile is refused.
	bio := "hello from the test"
	upd := connect.NewRequest(&userv1.UpdateProfileRequest{Bio: &bio})
	if _, err := users.UpdateProfile(ctx, upd); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous UpdateProfile = %v, want unauthenticated", err)
	}
	upd.Header().Set("Authorization", "Bearer "+byHandle.GetAccessToken())
	res, err := users.UpdateProfile(ctx, upd)
	if err != nil || res.Msg.GetProfile().GetBio() != bio || res.Msg.GetProfile().GetUserId() != userID {
		t.Fatalf("UpdateProfile = %v, %v", res, err)
	}
	tampered := connect.NewRequest(&userv1.UpdateProfileRequest{Bio: &bio})
	tampered.Header().Set("Authorization", "Bearer "+byHandle.GetAccessToken()+"x")
	if _, err := users.UpdateProfile(ctx, tampered); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("tampered token = %v, want unauthenticated", err)
	}
	prof, err := users.GetProfile(ctx, connect.NewRequest(&userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_Handle{Handle: handle}}))
	if err != nil || prof.Msg.GetProfile().GetBio() != bio || prof.Msg.GetProfile().GetDisplayName() != "Ana Test" {
		t.Fatalf("anonymous GetProfile = %v, %v", prof, err)
	}

	// Refresh rotates; presenting the spent token again revokes the family.
	rot, err := c.RefreshToken(ctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: byHandle.GetRefreshToken()}))
	if err != nil || rot.Msg.GetRefreshToken() == byHandle.GetRefreshToken() || rot.Msg.GetAccessToken() == "" {
		t.Fatalf("RefreshToken = %v, %v", rot, err)
	}
	if _, err := c.RefreshToken(ctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: byHandle.GetRefreshToken()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("reused refresh token = %v, want unauthenticated", err)
	}
	if _, err := c.RefreshToken(ctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: rot.Msg.GetRefreshToken()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("after reuse the newest token of the family = %v, want unauthenticated", err)
	}
	// Sign-out revokes the other session; signing out twice is fine.
	for range 2 {
		if _, err := c.SignOut(ctx, connect.NewRequest(&authv1.SignOutRequest{RefreshToken: byEmail.GetRefreshToken()})); err != nil {
			t.Fatalf("SignOut = %v", err)
		}
	}
	if _, err := c.RefreshToken(ctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: byEmail.GetRefreshToken()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("refresh after sign-out = %v, want unauthenticated", err)
	}

	// Throttling: after 5 failures even the right password waits.
	for range 5 {
		if _, err := signIn(handle, "wrong password again"); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("failed sign-in = %v", err)
		}
	}
	_, err = signIn(handle, "correct horse battery")
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("sign-in after 5 failures = %v, want resource_exhausted", err)
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Meta().Get("Retry-After") == "" {
		t.Fatalf("throttled sign-in has no Retry-After: %v", err)
	}
}

var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpCode is the authenticator app's code of secret at at.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongTOTPCode is a 6-digit code of no step from a minute before at to a
// minute after.
func wrongTOTPCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for s := -2; s <= 2; s++ {
		valid[totpCode(t, secret, at.Add(time.Duration(s)*30*time.Second))] = true
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i); !valid[c] {
			return c
		}
	}
}

// enableTOTP switches TOTP on for the caller of accessToken through the
// RPCs: EnrollTotp, then ConfirmTotp with the code of the time it returns
// (that code's step is spent; codes of later steps are still good). It
// returns the secret, that time and the recovery codes.
func enableTOTP(ctx context.Context, t *testing.T, base, accessToken string) (string, time.Time, []string) {
	t.Helper()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base)
	enroll := connect.NewRequest(&authv1.EnrollTotpRequest{})
	enroll.Header().Set("Authorization", "Bearer "+accessToken)
	enr, err := c.EnrollTotp(ctx, enroll)
	if err != nil {
		t.Fatalf("EnrollTotp = %v", err)
	}
	secret := enr.Msg.GetSecret()
	if key, err := otp.NewKeyFromURL(enr.Msg.GetOtpauthUrl()); err != nil || key.Secret() != secret {
		t.Fatalf("otpauth URL %q does not carry the secret: %v", enr.Msg.GetOtpauthUrl(), err)
	}
	now := time.Now()
	confirm := connect.NewRequest(&authv1.ConfirmTotpRequest{Code: totpCode(t, secret, now)})
	confirm.Header().Set("Authorization", "Bearer "+accessToken)
	conf, err := c.ConfirmTotp(ctx, confirm)
	if err != nil {
		t.Fatalf("ConfirmTotp = %v", err)
	}
	if len(conf.Msg.GetRecoveryCodes()) == 0 {
		t.Fatal("ConfirmTotp returned no recovery codes")
	}
	return secret, now, conf.Msg.GetRecoveryCodes()
}

// totpFlow signs a fresh user in with TOTP through the real RPCs: TOTP is
// enrolled and confirmed with a code from pquerna/otp; SignIn then needs a
// code, accepts one once (not again within its window) and accepts a
// recovery code once.
func totpFlow(t *testing.T, base string, readMail mailReader) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := register(ctx, t, base, readMail, "totp")
	secret, at, recovery := enableTOTP(ctx, t, base, m.token)
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base)
	signIn := func(code string) (*authv1.SignInResponse, error) {
		res, err := c.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: m.handle, Password: "correct horse battery", TotpCode: code}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	_, err := signIn("")
	if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "a TOTP code is required") {
		t.Fatalf("SignIn without a code = %v, want unauthenticated saying a code is required", err)
	}
	code := totpCode(t, secret, at.Add(30*time.Second)) // the confirmation spent the current step
	res, err := signIn(code)
	if err != nil || res.GetUserId() != m.id || res.GetAccessToken() == "" {
		t.Fatalf("SignIn with a code = %v, %v", res, err)
	}
	if _, err := signIn(code); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("SignIn with the same code again = %v, want unauthenticated", err)
	}
	res, err = signIn(recovery[0])
	if err != nil || res.GetUserId() != m.id {
		t.Fatalf("SignIn with a recovery code = %v, %v", res, err)
	}
	if _, err := signIn(recovery[0]); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("SignIn with a used recovery code = %v, want unauthenticated", err)
	}
}

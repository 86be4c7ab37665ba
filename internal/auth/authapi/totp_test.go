package authapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/internal/account"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/auth/authapi"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
)

const (
	testPassword = "correct horse battery staple"
	userHeader   = "X-Test-User"
)

var cheapArgon2 = auth.Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}

var codeOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

type totpEnv struct {
	ctx    context.Context
	store  *accountsqlite.Store
	client authv1connect.AuthServiceClient
}

// newTOTPEnv serves the handler on the real embedded account store and a
// real issuer; a test-only middleware makes the userHeader's value the caller.
func newTOTPEnv(t *testing.T) *totpEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	store := accountsqlite.New(storetest.SQLite(t))
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	svc := &authapi.Service{
		Accounts: store,
		Argon2:   cheapArgon2,
		Tokens:   &auth.Issuer{Keys: store, IssuerURL: "http://t", Audience: "ejazz", AccessTTL: 15 * time.Minute, RotateEvery: 24 * time.Hour},
	}
	path, h := authv1connect.NewAuthServiceHandler(svc)
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(userHeader); id != "" {
			r = r.WithContext(auth.WithCaller(r.Context(), auth.Caller{UserID: id}))
		}
		h.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &totpEnv{ctx: ctx, store: store, client: authv1connect.NewAuthServiceClient(srv.Client(), srv.URL)}
}

// newAccount stores a verified account with testPassword.
func (e *totpEnv) newAccount(t *testing.T) account.Account {
	t.Helper()
	hash, err := auth.HashPassword(testPassword, cheapArgon2)
	if err != nil {
		t.Fatal(err)
	}
	id := storetest.UniqueName("u")
	a := account.Account{ID: id, Email: id + "@example.test", Handle: "h" + id[len(id)-8:], PasswordHash: hash, VerifiedAt: time.Now()}
	if err := e.store.Create(e.ctx, a); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return a
}

// as returns req sent as the user (anonymous when id is empty).
func as[T any](id string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if id != "" {
		req.Header().Set(userHeader, id)
	}
	return req
}

func (e *totpEnv) signIn(handle, code string) (*authv1.SignInResponse, error) {
	res, err := e.client.SignIn(e.ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: handle, Password: testPassword, TotpCode: code}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// wantCode requires err to be a Connect error with code whose message
// contains each of words.
func wantCode(t *testing.T, what string, err error, code connect.Code, words ...string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("%s: error %v, want %v", what, err, code)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}

func wantTokens(t *testing.T, what string, res *authv1.SignInResponse, err error, userID string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.GetAccessToken() == "" || res.GetRefreshToken() == "" || res.GetUserId() != userID {
		t.Fatalf("%s: response %+v, want tokens for %s", what, res, userID)
	}
}

// codeAt is the TOTP code of secret at now plus offset.
func codeAt(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now().Add(offset), codeOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// awayFromStepEnd waits, when the current 30 s step ends within 5 s, until
// the next one starts, so "the previous/current/next step" stay put while
// the test runs.
func awayFromStepEnd(t *testing.T) {
	t.Helper()
	now := time.Now()
	if left := 30*time.Second - time.Duration(now.Unix()%30)*time.Second - time.Duration(now.Nanosecond()); left < 5*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
}

var recoveryRE = regexp.MustCompile(`^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$`)

func TestTOTPFlow(t *testing.T) {
	e := newTOTPEnv(t)
	c := e.client
	acc := e.newAccount(t)
	awayFromStepEnd(t)

	// Anonymous callers are turned away.
	_, err := c.EnrollTotp(e.ctx, as("", &authv1.EnrollTotpRequest{}))
	wantCode(t, "anonymous EnrollTotp", err, connect.CodeUnauthenticated)
	_, err = c.ConfirmTotp(e.ctx, as("", &authv1.ConfirmTotpRequest{Code: "123456"}))
	wantCode(t, "anonymous ConfirmTotp", err, connect.CodeUnauthenticated)
	_, err = c.DisableTotp(e.ctx, as("", &authv1.DisableTotpRequest{Code: "123456"}))
	wantCode(t, "anonymous DisableTotp", err, connect.CodeUnauthenticated)

	// Nothing enrolled yet.
	_, err = c.ConfirmTotp(e.ctx, as(acc.ID, &authv1.ConfirmTotpRequest{Code: "123456"}))
	wantCode(t, "ConfirmTotp without enrollment", err, connect.CodeFailedPrecondition)
	_, err = c.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: "123456"}))
	wantCode(t, "DisableTotp while off", err, connect.CodeFailedPrecondition)

	// Enrolling twice replaces the pending secret.
	first, err := c.EnrollTotp(e.ctx, as(acc.ID, &authv1.EnrollTotpRequest{}))
	if err != nil {
		t.Fatalf("EnrollTotp: %v", err)
	}
	enr, err := c.EnrollTotp(e.ctx, as(acc.ID, &authv1.EnrollTotpRequest{}))
	if err != nil {
		t.Fatalf("EnrollTotp again: %v", err)
	}
	secret := enr.Msg.GetSecret()
	if secret == "" || secret == first.Msg.GetSecret() {
		t.Fatalf("second enrollment's secret %q, want a new one (first %q)", secret, first.Msg.GetSecret())
	}
	key, err := otp.NewKeyFromURL(enr.Msg.GetOtpauthUrl())
	if err != nil {
		t.Fatalf("otpauth URL %q: %v", enr.Msg.GetOtpauthUrl(), err)
	}
	if key.Type() != "totp" || key.Issuer() != "Ejazz" || key.AccountName() != acc.Handle || key.Secret() != secret || key.Period() != 30 {
		t.Errorf("otpauth URL %q: type %s issuer %q account %q period %d, want totp Ejazz %q 30 and the secret",
			enr.Msg.GetOtpauthUrl(), key.Type(), key.Issuer(), key.AccountName(), key.Period(), acc.Handle)
	}
	// Pending TOTP is not required at sign-in.
	res, err := e.signIn(acc.Handle, "")
	wantTokens(t, "sign-in with TOTP pending", res, err, acc.ID)

	// Confirmation: empty and wrong codes, then the current one.
	_, err = c.ConfirmTotp(e.ctx, as(acc.ID, &authv1.ConfirmTotpRequest{}))
	wantCode(t, "ConfirmTotp without code", err, connect.CodeInvalidArgument, "code")
	_, err = c.ConfirmTotp(e.ctx, as(acc.ID, &authv1.ConfirmTotpRequest{Code: wrongCode(t, secret)}))
	wantCode(t, "ConfirmTotp with a wrong code", err, connect.CodePermissionDenied, "code")
	_, err = c.ConfirmTotp(e.ctx, as(acc.ID, &authv1.ConfirmTotpRequest{Code: codeAt(t, first.Msg.GetSecret(), 0)}))
	wantCode(t, "ConfirmTotp with the replaced secret's code", err, connect.CodePermissionDenied, "code")
	current := codeAt(t, secret, 0)
	conf, err := c.ConfirmTotp(e.ctx, as(acc.ID, &authv1.ConfirmTotpRequest{Code: current}))
	if err != nil {
		t.Fatalf("ConfirmTotp: %v", err)
	}
	recovery := conf.Msg.GetRecoveryCodes()
	seen := map[string]bool{}
	for _, rc := range recovery {
		if !recoveryRE.MatchString(rc) || seen[rc] {
			t.Errorf("recovery code %q: malformed or duplicate", rc)
		}
		seen[rc] = true
	}
	if len(recovery) != authapi.RecoveryCodes {
		t.Fatalf("%d recovery codes, want %d", len(recovery), authapi.RecoveryCodes)
	}
	_, err = c.ConfirmTotp(e.ctx, as(acc.ID, &authv1.ConfirmTotpRequest{Code: codeAt(t, secret, 30*time.Second)}))
	wantCode(t, "ConfirmTotp when on", err, connect.CodeFailedPrecondition)
	_, err = c.EnrollTotp(e.ctx, as(acc.ID, &authv1.EnrollTotpRequest{}))
	wantCode(t, "EnrollTotp when on", err, connect.CodeFailedPrecondition)

	// Sign-in now needs a code; the password is still checked first.
	_, err = e.signIn(acc.Handle, "")
	wantCode(t, "sign-in without a code", err, connect.CodeUnauthenticated, "TOTP code is required")
	_, err = e.client.SignIn(e.ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: acc.Handle, Password: "wrong password"}))
	wantCode(t, "sign-in with a wrong password", err, connect.CodeUnauthenticated, "invalid identifier or password")
	// The code that confirmed TOTP was spent by the confirmation.
	_, err = e.signIn(acc.Handle, current)
	wantCode(t, "sign-in with the confirmation's code", err, connect.CodeUnauthenticated, "TOTP code")
	_, err = e.signIn(acc.Handle, wrongCode(t, secret))
	wantCode(t, "sign-in with a wrong code", err, connect.CodeUnauthenticated, "TOTP code")
	// The next step's code (clock skew) works, once; then older ones do not.
	next := codeAt(t, secret, 30*time.Second)
	res, err = e.signIn(acc.Handle, next)
	wantTokens(t, "sign-in with a valid code", res, err, acc.ID)
	_, err = e.signIn(acc.Handle, next)
	wantCode(t, "replayed code", err, connect.CodeUnauthenticated, "TOTP code")
	_, err = e.signIn(acc.Handle, current)
	wantCode(t, "older code after a newer one", err, connect.CodeUnauthenticated, "TOTP code")

	// A recovery code works once, as typed by a person.
	typed := " " + strings.ToUpper(recovery[0]) + " "
	res, err = e.signIn(acc.Handle, typed)
	wantTokens(t, "sign-in with a recovery code", res, err, acc.ID)
	_, err = e.signIn(acc.Handle, recovery[0])
	wantCode(t, "reused recovery code", err, connect.CodeUnauthenticated, "TOTP code")

	// Disabling checks the code, accepts a recovery code and removes TOTP.
	_, err = c.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{}))
	wantCode(t, "DisableTotp without code", err, connect.CodeInvalidArgument, "code")
	_, err = c.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: recovery[0]}))
	wantCode(t, "DisableTotp with a used recovery code", err, connect.CodePermissionDenied, "code")
	if _, err := c.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: recovery[1]})); err != nil {
		t.Fatalf("DisableTotp with a recovery code: %v", err)
	}
	if _, err := e.store.GetTOTP(e.ctx, acc.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetTOTP after DisableTotp = %v, want storage.ErrNotFound", err)
	}
	if err := e.store.UseRecoveryCode(e.ctx, acc.ID, auth.HashSecret(recovery[2])); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("recovery code after DisableTotp = %v, want storage.ErrNotFound", err)
	}
	res, err = e.signIn(acc.Handle, "")
	wantTokens(t, "sign-in after DisableTotp", res, err, acc.ID)
	_, err = c.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: recovery[2]}))
	wantCode(t, "DisableTotp twice", err, connect.CodeFailedPrecondition)
}

// TestTOTPPreviousStep: a code of the previous step (clock skew) is accepted
// once, and DisableTotp accepts a current TOTP code.
func TestTOTPPreviousStep(t *testing.T) {
	e := newTOTPEnv(t)
	acc := e.newAccount(t)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Ejazz", AccountName: acc.Handle})
	if err != nil {
		t.Fatal(err)
	}
	secret := key.Secret()
	if err := e.store.PutPendingTOTP(e.ctx, acc.ID, secret); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmTOTP(e.ctx, acc.ID, 0, nil); err != nil {
		t.Fatal(err)
	}
	awayFromStepEnd(t)
	prev := codeAt(t, secret, -30*time.Second)
	res, err := e.signIn(acc.Handle, prev)
	wantTokens(t, "sign-in with the previous step's code", res, err, acc.ID)
	_, err = e.signIn(acc.Handle, prev)
	wantCode(t, "the previous step's code again", err, connect.CodeUnauthenticated, "TOTP code")
	// Two steps back is outside the window.
	if _, err := e.signIn(acc.Handle, codeAt(t, secret, -60*time.Second)); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("a code two steps old: %v, want unauthenticated", err)
	}
	_, err = e.client.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: prev}))
	wantCode(t, "DisableTotp with a spent code", err, connect.CodePermissionDenied, "code")
	if _, err := e.client.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: codeAt(t, secret, 0)})); err != nil {
		t.Fatalf("DisableTotp with the current code: %v", err)
	}
	res, err = e.signIn(acc.Handle, "")
	wantTokens(t, "sign-in after DisableTotp", res, err, acc.ID)
}

// wrongCode is a 6-digit code valid for none of the steps around now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	valid := map[string]bool{}
	for _, off := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		valid[codeAt(t, secret, off)] = true
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i); !valid[c] {
			return c
		}
	}
}

// Guessing DisableTotp codes is throttled on the sign-in failure count: a
// stolen access token cannot brute-force the second factor.
func TestDisableTotpIsThrottled(t *testing.T) {
	e := newTOTPEnv(t)
	acc := e.newAccount(t)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Ejazz", AccountName: acc.Handle})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutPendingTOTP(e.ctx, acc.ID, key.Secret()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmTOTP(e.ctx, acc.ID, 0, nil); err != nil {
		t.Fatal(err)
	}
	awayFromStepEnd(t)
	wrong := wrongCode(t, key.Secret())
	for i := range auth.MaxSignInFailures {
		_, err := e.client.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: wrong}))
		wantCode(t, fmt.Sprintf("wrong code %d", i+1), err, connect.CodePermissionDenied, "code")
	}
	_, err = e.client.DisableTotp(e.ctx, as(acc.ID, &authv1.DisableTotpRequest{Code: codeAt(t, key.Secret(), 0)}))
	wantCode(t, "the right code after too many wrong ones", err, connect.CodeResourceExhausted)
	if ce := new(connect.Error); errors.As(err, &ce) && ce.Meta().Get("Retry-After") == "" {
		t.Error("throttled DisableTotp without Retry-After")
	}
	if _, err := e.store.GetTOTP(e.ctx, acc.ID); err != nil {
		t.Errorf("TOTP after throttled attempts: %v, want still on", err)
	}
}

package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ejazz/ejazz/internal/account"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/storetest"
)

const testPassword = "correct horse battery staple"

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T) (context.Context, *accountsqlite.Store) {
	t.Helper()
	ctx := t.Context()
	store := accountsqlite.New(storetest.SQLite(t))
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx, store
}

func newAccount(t *testing.T, ctx context.Context, store account.Store, handle string, verified bool) account.Account {
	t.Helper()
	hash, err := auth.HashPassword(testPassword, auth.Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := account.Account{ID: "id-" + handle, Email: handle + "@example.com", Handle: handle, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if verified {
		a.VerifiedAt = a.CreatedAt
	}
	if err := store.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSignInThrottlesAndFreesItself(t *testing.T) {
	ctx, store := newStore(t)
	acc := newAccount(t, ctx, store, "ana", true)
	clk := &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := &auth.SignIns{Accounts: store, Now: clk.now}

	if _, err := s.SignIn(ctx, "nobody", testPassword, ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("unknown account: %v, want ErrBadCredentials", err)
	}
	for i := range auth.MaxSignInFailures {
		if _, err := s.SignIn(ctx, "ana", "wrong password", ""); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v, want ErrBadCredentials", i+1, err)
		}
		clk.t = clk.t.Add(time.Minute)
	}
	_, err := s.SignIn(ctx, "ANA", testPassword, "")
	var throttled *auth.ThrottledError
	if !errors.As(err, &throttled) || throttled.RetryAfter != auth.SignInFailureWindow {
		t.Fatalf("right password after %d failures: %v, want *ThrottledError", auth.MaxSignInFailures, err)
	}
	// The window slides: once the attempts are older than the window, the
	// right password works again.
	clk.t = clk.t.Add(auth.SignInFailureWindow + time.Second)
	// A success clears the count: 4 failures and a success, twice, stay
	// under the limit only because the first success forgot its failures.
	for round := range 2 {
		for range auth.MaxSignInFailures - 1 {
			if _, err := s.SignIn(ctx, "ana", "wrong password", ""); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("round %d: failure: %v", round, err)
			}
		}
		got, err := s.SignIn(ctx, "ana@EXAMPLE.com", testPassword, "")
		if err != nil || got.ID != acc.ID {
			t.Fatalf("round %d: sign-in after %d failures: %v, %v", round, auth.MaxSignInFailures-1, got, err)
		}
	}
}

func TestSignInUnverified(t *testing.T) {
	ctx, store := newStore(t)
	newAccount(t, ctx, store, "bob", false)
	s := &auth.SignIns{Accounts: store}
	if _, err := s.SignIn(ctx, "bob", "wrong password", ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("wrong password of an unverified account: %v, want ErrBadCredentials", err)
	}
	if _, err := s.SignIn(ctx, "bob", testPassword, ""); !errors.Is(err, auth.ErrUnverified) {
		t.Fatalf("right password of an unverified account: %v, want ErrUnverified", err)
	}
}

func TestSignInSecondFactor(t *testing.T) {
	ctx, store := newStore(t)
	acc := newAccount(t, ctx, store, "cy", true)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Ejazz", AccountName: "cy"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutPendingTOTP(ctx, acc.ID, key.Secret()); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2030, 1, 1, 12, 0, 10, 0, time.UTC)}
	s := &auth.SignIns{Accounts: store, Now: clk.now}
	if on, err := s.TOTPEnabled(ctx, acc.ID); err != nil || on {
		t.Fatalf("TOTPEnabled with a pending enrollment = %v, %v", on, err)
	}
	if _, err := s.SignIn(ctx, "cy", testPassword, ""); err != nil {
		t.Fatalf("a pending enrollment is not required: %v", err)
	}
	recovery := "abcde-fghjk"
	if err := store.ConfirmTOTP(ctx, acc.ID, 0, []string{auth.RecoveryCodeHash(recovery)}); err != nil {
		t.Fatal(err)
	}
	if on, err := s.TOTPEnabled(ctx, acc.ID); err != nil || !on {
		t.Fatalf("TOTPEnabled = %v, %v", on, err)
	}
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(key.Secret(), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := code(clk.t)
	for _, tc := range []struct {
		name, password, code string
		want                 error
	}{
		{"no code", testPassword, "", auth.ErrTOTPRequired},
		{"wrong password, right code", "wrong password", now, auth.ErrBadCredentials},
		{"code two steps old", testPassword, code(clk.t.Add(-time.Minute)), auth.ErrTOTPInvalid},
		{"not a code", testPassword, "abc", auth.ErrTOTPInvalid},
	} {
		if _, err := s.SignIn(ctx, "cy", tc.password, tc.code); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.SignIn(ctx, "cy", testPassword, now[:3]+" "+now[3:]); err != nil {
		t.Fatalf("current code as typed: %v", err)
	}
	if _, err := s.SignIn(ctx, "cy", testPassword, now); !errors.Is(err, auth.ErrTOTPInvalid) {
		t.Fatalf("the same code again: %v, want ErrTOTPInvalid", err)
	}
	if _, err := s.SignIn(ctx, "cy", testPassword, " ABCDE-FGHJK "); err != nil {
		t.Fatalf("recovery code as typed: %v", err)
	}
	if _, err := s.SignIn(ctx, "cy", testPassword, recovery); !errors.Is(err, auth.ErrTOTPInvalid) {
		t.Fatalf("a used recovery code: %v, want ErrTOTPInvalid", err)
	}
	// Code failures count towards throttling like wrong passwords: one
	// failure above (the used recovery code), 4 more make 5; the 6th attempt
	// is refused before the code is looked at.
	for range 4 {
		if _, err := s.SignIn(ctx, "cy", testPassword, ""); !errors.Is(err, auth.ErrTOTPRequired) {
			t.Fatalf("no code: %v", err)
		}
	}
	var throttled *auth.ThrottledError
	if _, err := s.SignIn(ctx, "cy", testPassword, code(clk.t.Add(30*time.Second))); !errors.As(err, &throttled) {
		t.Fatalf("after 5 failed codes: %v, want *ThrottledError", err)
	}
}

func TestSessionRotationAndReuse(t *testing.T) {
	ctx, store := newStore(t)
	acc := newAccount(t, ctx, store, "dee", true)
	now := time.Now().UTC()
	first, rec, err := auth.StartSession(ctx, store, acc.ID, now)
	if err != nil || first == "" || rec.Hash != auth.HashSecret(first) || rec.AccountID != acc.ID || rec.FamilyID == "" {
		t.Fatalf("StartSession = %q, %+v, %v", first, rec, err)
	}
	second, next, err := auth.RotateSession(ctx, store, first, now.Add(time.Minute))
	if err != nil || second == first || next.FamilyID != rec.FamilyID || next.AccountID != acc.ID || next.Hash != auth.HashSecret(second) {
		t.Fatalf("RotateSession = %q, %+v, %v", second, next, err)
	}
	if _, _, err := auth.RotateSession(ctx, store, first, now.Add(2*time.Minute)); !errors.Is(err, auth.ErrSessionReused) {
		t.Fatalf("reusing the rotated token: %v, want ErrSessionReused", err)
	}
	if _, _, err := auth.RotateSession(ctx, store, second, now.Add(2*time.Minute)); !errors.Is(err, auth.ErrSessionInvalid) {
		t.Fatalf("the family's newest token after reuse: %v, want ErrSessionInvalid", err)
	}
	for _, tok := range []string{"", "unknown", string(make([]byte, auth.MaxRefreshTokenLen+1))} {
		if _, _, err := auth.RotateSession(ctx, store, tok, now); !errors.Is(err, auth.ErrSessionInvalid) {
			t.Errorf("RotateSession(%q…): %v, want ErrSessionInvalid", tok[:min(len(tok), 8)], err)
		}
	}

	// Expiry and sign-out.
	other, _, err := auth.StartSession(ctx, store, acc.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.RotateSession(ctx, store, other, now.Add(auth.RefreshTTL+time.Second)); !errors.Is(err, auth.ErrSessionInvalid) {
		t.Fatalf("expired token: %v, want ErrSessionInvalid", err)
	}
	third, _, err := auth.StartSession(ctx, store, acc.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := auth.EndSession(ctx, store, third); err != nil {
			t.Fatalf("EndSession: %v", err)
		}
	}
	if _, _, err := auth.RotateSession(ctx, store, third, now); !errors.Is(err, auth.ErrSessionInvalid) {
		t.Fatalf("token after EndSession: %v, want ErrSessionInvalid", err)
	}
}

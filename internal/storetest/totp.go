package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// TOTPStore is the conformance suite of the TOTP part of the account port:
// a pending enrollment is replaced by a new one but a confirmed one is
// storage.ErrAlreadyExists (and unchanged); confirming sets LastStep and
// replaces the recovery codes, and fails on a missing (ErrNotFound) or
// confirmed (ErrAlreadyExists) enrollment; UseTOTPStep accepts only a later
// step (ErrStepUsed otherwise, ErrNotFound without enrollment) and of
// concurrent uses of one step exactly one wins; a recovery code works once,
// only for its account, and of concurrent uses exactly one wins; DeleteTOTP
// and the account's Delete remove the enrollment and codes.
func TOTPStore(t *testing.T, open func(t *testing.T) account.Store) {
	setup := func(t *testing.T) (account.Store, context.Context) { return migrated(t, open) }
	// confirmed enrolls id with secret and confirms it at step with codes.
	confirmed := func(t *testing.T, c context.Context, s account.Store, id, secret string, step int64, codes ...string) {
		t.Helper()
		if err := s.PutPendingTOTP(c, id, secret); err != nil {
			t.Fatalf("PutPendingTOTP: %v", err)
		}
		if err := s.ConfirmTOTP(c, id, step, codes); err != nil {
			t.Fatalf("ConfirmTOTP: %v", err)
		}
	}
	check := func(t *testing.T, c context.Context, s account.Store, want account.TOTP) {
		t.Helper()
		got, err := s.GetTOTP(c, want.AccountID)
		if err != nil {
			t.Fatalf("GetTOTP: %v", err)
		}
		if got != want {
			t.Errorf("GetTOTP = %+v, want %+v", got, want)
		}
	}
	const secretA, secretB = "JBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLU"

	t.Run("pending enrollment", func(t *testing.T) {
		s, c := setup(t)
		id := accountFixture("acc").ID
		if _, err := s.GetTOTP(c, id); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetTOTP without enrollment = %v, want storage.ErrNotFound", err)
		}
		if err := s.PutPendingTOTP(c, id, secretA); err != nil {
			t.Fatalf("PutPendingTOTP: %v", err)
		}
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretA})
		if err := s.PutPendingTOTP(c, id, secretB); err != nil {
			t.Fatalf("PutPendingTOTP again: %v", err)
		}
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretB})
		if _, err := s.GetTOTP(c, accountFixture("other").ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("another account's GetTOTP = %v, want storage.ErrNotFound", err)
		}
	})

	t.Run("confirmation", func(t *testing.T) {
		s, c := setup(t)
		id := accountFixture("acc").ID
		if err := s.ConfirmTOTP(c, id, 5, []string{"h1"}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ConfirmTOTP without enrollment = %v, want storage.ErrNotFound", err)
		}
		confirmed(t, c, s, id, secretA, 100, "h1", "h2")
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretA, Confirmed: true, LastStep: 100})
		if err := s.PutPendingTOTP(c, id, secretB); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("PutPendingTOTP over a confirmed one = %v, want storage.ErrAlreadyExists", err)
		}
		if err := s.ConfirmTOTP(c, id, 200, []string{"h3"}); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("ConfirmTOTP twice = %v, want storage.ErrAlreadyExists", err)
		}
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretA, Confirmed: true, LastStep: 100})
		if err := s.UseRecoveryCode(c, id, "h3"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a code of the failed confirmation = %v, want storage.ErrNotFound", err)
		}
		// Re-enrolling after DeleteTOTP replaces the codes.
		if err := s.DeleteTOTP(c, id); err != nil {
			t.Fatalf("DeleteTOTP: %v", err)
		}
		confirmed(t, c, s, id, secretB, 7, "h4")
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretB, Confirmed: true, LastStep: 7})
		for _, h := range []string{"h1", "h2"} {
			if err := s.UseRecoveryCode(c, id, h); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("old recovery code %s = %v, want storage.ErrNotFound", h, err)
			}
		}
		if err := s.UseRecoveryCode(c, id, "h4"); err != nil {
			t.Errorf("new recovery code: %v", err)
		}
	})

	t.Run("time steps", func(t *testing.T) {
		s, c := setup(t)
		id, other := accountFixture("acc").ID, accountFixture("other").ID
		if err := s.UseTOTPStep(c, id, 1); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("UseTOTPStep without enrollment = %v, want storage.ErrNotFound", err)
		}
		confirmed(t, c, s, id, secretA, 100)
		confirmed(t, c, s, other, secretB, 100)
		for _, step := range []int64{100, 99, 0} {
			if err := s.UseTOTPStep(c, id, step); !errors.Is(err, account.ErrStepUsed) {
				t.Errorf("UseTOTPStep(%d) after 100 = %v, want account.ErrStepUsed", step, err)
			}
		}
		if err := s.UseTOTPStep(c, id, 101); err != nil {
			t.Fatalf("UseTOTPStep(101): %v", err)
		}
		if err := s.UseTOTPStep(c, id, 101); !errors.Is(err, account.ErrStepUsed) {
			t.Errorf("UseTOTPStep(101) again = %v, want account.ErrStepUsed", err)
		}
		if err := s.UseTOTPStep(c, id, 105); err != nil {
			t.Fatalf("UseTOTPStep(105): %v", err)
		}
		if err := s.UseTOTPStep(c, id, 103); !errors.Is(err, account.ErrStepUsed) {
			t.Errorf("UseTOTPStep(103) after 105 = %v, want account.ErrStepUsed", err)
		}
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretA, Confirmed: true, LastStep: 105})
		check(t, c, s, account.TOTP{AccountID: other, Secret: secretB, Confirmed: true, LastStep: 100})
	})

	t.Run("concurrent use of one step", func(t *testing.T) {
		s, c := setup(t)
		id := accountFixture("acc").ID
		confirmed(t, c, s, id, secretA, 100)
		const n = 8
		errs := accountConcurrently(n, func(int) error { return s.UseTOTPStep(c, id, 101) })
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, account.ErrStepUsed):
				t.Errorf("call %d = %v, want nil or account.ErrStepUsed", i, err)
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d concurrent uses of one step succeeded, want exactly 1", wins, n)
		}
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretA, Confirmed: true, LastStep: 101})
	})

	t.Run("recovery codes", func(t *testing.T) {
		s, c := setup(t)
		id, other := accountFixture("acc").ID, accountFixture("other").ID
		confirmed(t, c, s, id, secretA, 1, "h1", "h2")
		confirmed(t, c, s, other, secretB, 1, "o1")
		if err := s.UseRecoveryCode(c, id, "o1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("another account's code = %v, want storage.ErrNotFound", err)
		}
		if err := s.UseRecoveryCode(c, id, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unknown code = %v, want storage.ErrNotFound", err)
		}
		if err := s.UseRecoveryCode(c, id, "h1"); err != nil {
			t.Fatalf("UseRecoveryCode: %v", err)
		}
		if err := s.UseRecoveryCode(c, id, "h1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("used code again = %v, want storage.ErrNotFound", err)
		}
		if err := s.UseRecoveryCode(c, id, "h2"); err != nil {
			t.Errorf("second code: %v", err)
		}
		if err := s.UseRecoveryCode(c, other, "o1"); err != nil {
			t.Errorf("the other account's code: %v", err)
		}
	})

	t.Run("concurrent use of a recovery code", func(t *testing.T) {
		s, c := setup(t)
		id := accountFixture("acc").ID
		confirmed(t, c, s, id, secretA, 1, "h1")
		const n = 8
		errs := accountConcurrently(n, func(int) error { return s.UseRecoveryCode(c, id, "h1") })
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("call %d = %v, want nil or storage.ErrNotFound", i, err)
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d concurrent uses of one code succeeded, want exactly 1", wins, n)
		}
	})

	t.Run("deletion", func(t *testing.T) {
		s, c := setup(t)
		if err := s.DeleteTOTP(c, accountFixture("none").ID); err != nil {
			t.Errorf("DeleteTOTP without enrollment: %v", err)
		}
		id, other := accountFixture("acc").ID, accountFixture("other").ID
		confirmed(t, c, s, id, secretA, 1, "h1")
		confirmed(t, c, s, other, secretB, 1, "o1")
		if err := s.DeleteTOTP(c, id); err != nil {
			t.Fatalf("DeleteTOTP: %v", err)
		}
		if _, err := s.GetTOTP(c, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetTOTP after DeleteTOTP = %v, want storage.ErrNotFound", err)
		}
		if err := s.UseRecoveryCode(c, id, "h1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("recovery code after DeleteTOTP = %v, want storage.ErrNotFound", err)
		}
		// Enrolling again starts pending.
		if err := s.PutPendingTOTP(c, id, secretB); err != nil {
			t.Fatalf("PutPendingTOTP after DeleteTOTP: %v", err)
		}
		check(t, c, s, account.TOTP{AccountID: id, Secret: secretB})
		check(t, c, s, account.TOTP{AccountID: other, Secret: secretB, Confirmed: true, LastStep: 1})
	})

	t.Run("account deletion removes TOTP", func(t *testing.T) {
		s, c := setup(t)
		a, b := accountFixture("acc"), accountFixture("other")
		for _, acc := range []account.Account{a, b} {
			if err := s.Create(c, acc); err != nil {
				t.Fatalf("Create: %v", err)
			}
			confirmed(t, c, s, acc.ID, secretA, 1, "h-"+acc.ID)
		}
		if err := s.Delete(c, a.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.GetTOTP(c, a.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetTOTP after Delete = %v, want storage.ErrNotFound", err)
		}
		if err := s.UseRecoveryCode(c, a.ID, "h-"+a.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("recovery code after Delete = %v, want storage.ErrNotFound", err)
		}
		check(t, c, s, account.TOTP{AccountID: b.ID, Secret: secretA, Confirmed: true, LastStep: 1})
		if err := s.UseRecoveryCode(c, b.ID, "h-"+b.ID); err != nil {
			t.Errorf("the other account's recovery code: %v", err)
		}
	})
}

package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// AccountStore is the conformance suite of the account port: creation and
// lookups (handle case-insensitive), the uniqueness of email and handle
// (TakenError, email reported first, idempotent retries, one winner among
// concurrent creations), verification, password change, deletion (with the
// account's tokens, freeing email and handle), single-use tokens (put is
// idempotent, consume is atomic, expired tokens fail and are gone, kinds do
// not mix, DeleteTokens by kind), and ScanAccounts (every account once, in
// pages).
func AccountStore(t *testing.T, open func(t *testing.T) account.Store) {
	Lifecycle(t, account.Component, func(t *testing.T) storage.Store { return open(t) })

	setup := func(t *testing.T) (account.Store, context.Context) { return migrated(t, open) }
	// A fixed instant with nanoseconds, in a non-UTC zone: stores keep UTC to
	// the microsecond.
	base := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

	t.Run("create and get", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("acc")
		a.CreatedAt = base
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		got, err := s.Get(c, a.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		accountCheck(t, "Get", got, a)
		if got.Verified() {
			t.Errorf("new account Verified() = true, VerifiedAt %v", got.VerifiedAt)
		}
		if got, err := s.GetByEmail(c, a.Email); err != nil {
			t.Errorf("GetByEmail: %v", err)
		} else {
			accountCheck(t, "GetByEmail", got, a)
		}
		for _, h := range []string{a.Handle, strings.ToLower(a.Handle), strings.ToUpper(a.Handle)} {
			if got, err := s.GetByHandle(c, h); err != nil {
				t.Errorf("GetByHandle(%q) of %q: %v", h, a.Handle, err)
			} else {
				accountCheck(t, "GetByHandle("+h+")", got, a)
			}
		}

		// An account created verified keeps its VerifiedAt.
		b := accountFixture("acc")
		b.CreatedAt = base.Add(-time.Hour)
		b.VerifiedAt = base
		if err := s.Create(c, b); err != nil {
			t.Fatalf("Create verified: %v", err)
		}
		if got, err := s.Get(c, b.ID); err != nil {
			t.Fatalf("Get verified: %v", err)
		} else {
			accountCheck(t, "Get verified", got, b)
		}
	})

	t.Run("scan lists every account once", func(t *testing.T) {
		s, c := setup(t)
		if got, next, err := s.ScanAccounts(c, "", 10); err != nil || len(got) != 0 || next != "" {
			t.Fatalf("ScanAccounts of an empty store = %v, %q, %v", got, next, err)
		}
		want := map[string]account.Account{}
		for range 5 {
			a := accountFixture("scan")
			a.CreatedAt = base
			if err := s.Create(c, a); err != nil {
				t.Fatal(err)
			}
			want[a.ID] = a
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			page, next, err := s.ScanAccounts(c, cursor, 2)
			if err != nil {
				t.Fatalf("ScanAccounts(%q): %v", cursor, err)
			}
			if pages++; pages > 10 || len(page) > 2 {
				t.Fatalf("ScanAccounts: page %d has %d accounts", pages, len(page))
			}
			for _, a := range page {
				if seen[a.ID] {
					t.Errorf("ScanAccounts listed %s twice", a.ID)
				}
				seen[a.ID] = true
				accountCheck(t, "ScanAccounts", a, want[a.ID])
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if len(seen) != len(want) {
			t.Errorf("ScanAccounts listed %d accounts, want %d", len(seen), len(want))
		}
	})

	t.Run("not found", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("existing")
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		missing := accountFixture("missing")
		for name, err := range map[string]error{
			"Get":             accountErrOf(s.Get(c, missing.ID)),
			"GetByEmail":      accountErrOf(s.GetByEmail(c, missing.Email)),
			"GetByHandle":     accountErrOf(s.GetByHandle(c, missing.Handle)),
			"MarkVerified":    s.MarkVerified(c, missing.ID, base),
			"SetPasswordHash": s.SetPasswordHash(c, missing.ID, "$argon2id$v=19$other"),
		} {
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s of a missing account = %v, want storage.ErrNotFound", name, err)
			}
		}
		if err := s.Delete(c, missing.ID); err != nil {
			t.Errorf("Delete of a missing account = %v, want nil", err)
		}
		if got, err := s.Get(c, a.ID); err != nil {
			t.Errorf("the existing account after operations on a missing one: %v", err)
		} else {
			accountCheck(t, "Get", got, a)
		}
	})

	t.Run("email and handle are taken", func(t *testing.T) {
		s, c := setup(t)
		owner := accountFixture("owner")
		other := accountFixture("other")
		for _, a := range []account.Account{owner, other} {
			if err := s.Create(c, a); err != nil {
				t.Fatalf("Create: %v", err)
			}
		}
		fresh := func(mut func(a *account.Account)) account.Account {
			a := accountFixture("fresh")
			mut(&a)
			return a
		}
		for _, tc := range []struct {
			name string
			a    account.Account
			// field is the field a *TakenError must name; "" accepts either.
			field string
			// existing: a.ID is an existing account, which must stay unchanged.
			existing bool
		}{
			{name: "email", a: fresh(func(a *account.Account) { a.Email = owner.Email }), field: "email"},
			{name: "handle", a: fresh(func(a *account.Account) { a.Handle = owner.Handle }), field: "handle"},
			{name: "handle lowercase", a: fresh(func(a *account.Account) { a.Handle = strings.ToLower(owner.Handle) }), field: "handle"},
			{name: "handle uppercase", a: fresh(func(a *account.Account) { a.Handle = strings.ToUpper(owner.Handle) }), field: "handle"},
			{name: "both: email first", a: fresh(func(a *account.Account) { a.Email, a.Handle = owner.Email, owner.Handle }), field: "email"},
			{name: "email of one, handle of another: email first", a: fresh(func(a *account.Account) { a.Email, a.Handle = other.Email, owner.Handle }), field: "email"},
			{name: "same id, other email", a: func() account.Account { a := owner; a.Email = accountFixture("x").Email; return a }(), existing: true},
			{name: "same id, other handle", a: func() account.Account { a := owner; a.Handle = accountFixture("x").Handle; return a }(), existing: true},
			{name: "same id, another account's email", a: func() account.Account { a := owner; a.Email = other.Email; return a }(), field: "email", existing: true},
			{name: "same id, another account's handle", a: func() account.Account { a := owner; a.Handle = other.Handle; return a }(), field: "handle", existing: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Create(c, tc.a)
				field, ok := account.IsTaken(err)
				if !ok {
					t.Fatalf("Create = %v, want a *account.TakenError", err)
				}
				if tc.field != "" && field != tc.field {
					t.Errorf("Create = %v: taken field %q, want %q", err, field, tc.field)
				}
				if field != "email" && field != "handle" {
					t.Errorf("taken field %q, want email or handle", field)
				}
				if !errors.Is(err, storage.ErrAlreadyExists) {
					t.Errorf("errors.Is(%v, storage.ErrAlreadyExists) = false", err)
				}
				if tc.existing {
					got, err := s.Get(c, tc.a.ID)
					if err != nil {
						t.Fatalf("Get: %v", err)
					}
					accountCheck(t, "the existing account", got, owner)
				} else if _, err := s.Get(c, tc.a.ID); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("the refused account exists: Get = %v, want storage.ErrNotFound", err)
				}
			})
		}
		for _, a := range []account.Account{owner, other} {
			if got, err := s.GetByEmail(c, a.Email); err != nil || got.ID != a.ID {
				t.Errorf("GetByEmail(%s) = %s, %v; want %s", a.Email, got.ID, err, a.ID)
			}
		}
	})

	t.Run("create is idempotent", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("retry")
		a.CreatedAt = base
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create again with the same values = %v, want nil", err)
		}
		// Same id, email and handle: a no-op, whatever the other fields.
		again := a
		again.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$other$hash"
		again.CreatedAt = base.Add(time.Hour)
		if err := s.Create(c, again); err != nil {
			t.Fatalf("Create again with another password hash = %v, want nil", err)
		}
		got, err := s.Get(c, a.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		accountCheck(t, "after retries", got, a)
	})

	t.Run("concurrent creates", func(t *testing.T) {
		s, c := setup(t)
		const n = 8
		email := accountFixture("race").Email
		accounts := make([]account.Account, n)
		for i := range accounts {
			accounts[i] = accountFixture("race")
			accounts[i].Email = email
		}
		errs := accountConcurrently(n, func(i int) error { return s.Create(c, accounts[i]) })
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Errorf("accounts %d and %d both created with one email", winner, i)
				}
				winner = i
			} else if field, ok := account.IsTaken(err); !ok || field != "email" {
				t.Errorf("a losing Create = %v, want TakenError{email}", err)
			}
		}
		if winner < 0 {
			t.Fatal("no concurrent Create succeeded")
		}
		if got, err := s.GetByEmail(c, email); err != nil || got.ID != accounts[winner].ID {
			t.Errorf("GetByEmail = %s, %v; want the winner %s", got.ID, err, accounts[winner].ID)
		}

		// Concurrent retries of one creation all succeed.
		a := accountFixture("retry")
		for i, err := range accountConcurrently(n, func(int) error { return s.Create(c, a) }) {
			if err != nil {
				t.Errorf("concurrent retry %d = %v, want nil", i, err)
			}
		}
		if _, err := s.Get(c, a.ID); err != nil {
			t.Errorf("Get after concurrent retries: %v", err)
		}
	})

	t.Run("mark verified", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("verify")
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.MarkVerified(c, a.ID, base); err != nil {
			t.Fatalf("MarkVerified: %v", err)
		}
		got, err := s.Get(c, a.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !got.Verified() {
			t.Fatal("Verified() = false after MarkVerified")
		}
		accountCheckTime(t, "VerifiedAt", got.VerifiedAt, base)
		// The first time wins.
		if err := s.MarkVerified(c, a.ID, base.Add(time.Hour)); err != nil {
			t.Fatalf("second MarkVerified = %v, want nil", err)
		}
		got, err = s.Get(c, a.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		accountCheckTime(t, "VerifiedAt after a second MarkVerified", got.VerifiedAt, base)
		want := a
		want.VerifiedAt = base
		accountCheck(t, "verified account", got, want)
	})

	t.Run("set password hash", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("pw")
		b := accountFixture("pw")
		for _, x := range []account.Account{a, b} {
			if err := s.Create(c, x); err != nil {
				t.Fatalf("Create: %v", err)
			}
		}
		const hash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3aGFzaA"
		if err := s.SetPasswordHash(c, a.ID, hash); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		want := a
		want.PasswordHash = hash
		if got, err := s.Get(c, a.ID); err != nil {
			t.Fatalf("Get: %v", err)
		} else {
			accountCheck(t, "after SetPasswordHash", got, want)
		}
		if got, err := s.Get(c, b.ID); err != nil {
			t.Fatalf("Get other: %v", err)
		} else {
			accountCheck(t, "another account", got, b)
		}
	})

	t.Run("delete", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("del")
		b := accountFixture("keep")
		for _, x := range []account.Account{a, b} {
			if err := s.Create(c, x); err != nil {
				t.Fatalf("Create: %v", err)
			}
		}
		exp := base.Add(time.Hour)
		aVerify := tokenFixture(account.TokenVerifyEmail, a.ID, exp)
		aReset := tokenFixture(account.TokenResetPassword, a.ID, exp)
		bVerify := tokenFixture(account.TokenVerifyEmail, b.ID, exp)
		for _, tok := range []account.Token{aVerify, aReset, bVerify} {
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
		}
		if err := s.Delete(c, a.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(c, a.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get after Delete = %v, want storage.ErrNotFound", err)
		}
		if _, err := s.GetByEmail(c, a.Email); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetByEmail after Delete = %v, want storage.ErrNotFound", err)
		}
		if _, err := s.GetByHandle(c, a.Handle); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetByHandle after Delete = %v, want storage.ErrNotFound", err)
		}
		for _, tok := range []account.Token{aVerify, aReset} {
			if _, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ConsumeToken(%s) of a deleted account = %v, want storage.ErrNotFound", tok.Kind, err)
			}
		}
		if got, err := s.ConsumeToken(c, bVerify.Kind, bVerify.Hash, base); err != nil {
			t.Errorf("another account's token after Delete: %v", err)
		} else {
			accountCheckToken(t, got, bVerify)
		}
		if got, err := s.Get(c, b.ID); err != nil {
			t.Errorf("another account after Delete: %v", err)
		} else {
			accountCheck(t, "another account", got, b)
		}
		// Email and handle are free again.
		reuse := accountFixture("reuse")
		reuse.Email, reuse.Handle = a.Email, a.Handle
		if err := s.Create(c, reuse); err != nil {
			t.Fatalf("Create with a deleted account's email and handle: %v", err)
		}
		if got, err := s.GetByHandle(c, a.Handle); err != nil || got.ID != reuse.ID {
			t.Errorf("GetByHandle = %s, %v; want %s", got.ID, err, reuse.ID)
		}
		if err := s.Delete(c, a.ID); err != nil {
			t.Errorf("second Delete = %v, want nil", err)
		}
	})

	t.Run("tokens", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("tok")
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		exp := base.Add(time.Hour)

		t.Run("consume once", func(t *testing.T) {
			tok := tokenFixture(account.TokenVerifyEmail, a.ID, exp)
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			got, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base)
			if err != nil {
				t.Fatalf("ConsumeToken: %v", err)
			}
			accountCheckToken(t, got, tok)
			if _, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("second ConsumeToken = %v, want storage.ErrNotFound", err)
			}
		})

		t.Run("put is idempotent", func(t *testing.T) {
			tok := tokenFixture(account.TokenResetPassword, a.ID, exp)
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken again = %v, want nil", err)
			}
			// Another token with the same hash changes nothing.
			changed := tok
			changed.ExpiresAt = base.Add(-time.Hour)
			changed.Kind = account.TokenVerifyEmail
			if err := s.PutToken(c, changed); err != nil {
				t.Fatalf("PutToken with the same hash = %v, want nil", err)
			}
			got, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base)
			if err != nil {
				t.Fatalf("ConsumeToken: %v", err)
			}
			accountCheckToken(t, got, tok)
			if _, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ConsumeToken of a token put twice, after one use = %v, want storage.ErrNotFound", err)
			}
		})

		t.Run("never issued", func(t *testing.T) {
			if _, err := s.ConsumeToken(c, account.TokenVerifyEmail, tokenFixture(account.TokenVerifyEmail, a.ID, exp).Hash, base); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ConsumeToken of an unknown hash = %v, want storage.ErrNotFound", err)
			}
		})

		t.Run("wrong kind", func(t *testing.T) {
			tok := tokenFixture(account.TokenVerifyEmail, a.ID, exp)
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			if _, err := s.ConsumeToken(c, account.TokenResetPassword, tok.Hash, base); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ConsumeToken with the wrong kind = %v, want storage.ErrNotFound", err)
			}
			// The token survives a use with the wrong kind.
			got, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base)
			if err != nil {
				t.Fatalf("ConsumeToken with the right kind after a wrong one: %v", err)
			}
			accountCheckToken(t, got, tok)
		})

		t.Run("expired", func(t *testing.T) {
			tok := tokenFixture(account.TokenResetPassword, a.ID, base)
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			if _, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base.Add(time.Second)); !errors.Is(err, account.ErrExpired) {
				t.Fatalf("ConsumeToken past expiry = %v, want account.ErrExpired", err)
			}
			// An expired token is gone, even for a "now" before its expiry.
			if _, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base.Add(-time.Hour)); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ConsumeToken after ErrExpired = %v, want storage.ErrNotFound", err)
			}
		})

		t.Run("valid up to its expiry", func(t *testing.T) {
			at := base.UTC().Truncate(time.Microsecond)
			tok := tokenFixture(account.TokenVerifyEmail, a.ID, at)
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			got, err := s.ConsumeToken(c, tok.Kind, tok.Hash, at)
			if err != nil {
				t.Fatalf("ConsumeToken at exactly ExpiresAt = %v, want success (expired only past it)", err)
			}
			accountCheckToken(t, got, tok)
		})

		t.Run("concurrent consume", func(t *testing.T) {
			tok := tokenFixture(account.TokenResetPassword, a.ID, exp)
			if err := s.PutToken(c, tok); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			const n = 8
			got := make([]account.Token, n)
			errs := accountConcurrently(n, func(i int) error {
				var err error
				got[i], err = s.ConsumeToken(c, tok.Kind, tok.Hash, base)
				return err
			})
			wins := 0
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
					accountCheckToken(t, got[i], tok)
				case !errors.Is(err, storage.ErrNotFound):
					t.Errorf("a losing ConsumeToken = %v, want storage.ErrNotFound", err)
				}
			}
			if wins != 1 {
				t.Errorf("%d of %d concurrent ConsumeToken succeeded, want exactly 1", wins, n)
			}
		})

		t.Run("delete tokens by kind", func(t *testing.T) {
			b := accountFixture("tok")
			if err := s.Create(c, b); err != nil {
				t.Fatalf("Create: %v", err)
			}
			v1 := tokenFixture(account.TokenVerifyEmail, a.ID, exp)
			v2 := tokenFixture(account.TokenVerifyEmail, a.ID, exp.Add(time.Hour))
			r1 := tokenFixture(account.TokenResetPassword, a.ID, exp)
			bv := tokenFixture(account.TokenVerifyEmail, b.ID, exp)
			for _, tok := range []account.Token{v1, v2, r1, bv} {
				if err := s.PutToken(c, tok); err != nil {
					t.Fatalf("PutToken: %v", err)
				}
			}
			if err := s.DeleteTokens(c, a.ID, account.TokenVerifyEmail); err != nil {
				t.Fatalf("DeleteTokens: %v", err)
			}
			for _, tok := range []account.Token{v1, v2} {
				if _, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("ConsumeToken of a deleted token = %v, want storage.ErrNotFound", err)
				}
			}
			for _, tok := range []account.Token{r1, bv} {
				if got, err := s.ConsumeToken(c, tok.Kind, tok.Hash, base); err != nil {
					t.Errorf("ConsumeToken of a token DeleteTokens must keep (%s of %s): %v", tok.Kind, tok.AccountID, err)
				} else {
					accountCheckToken(t, got, tok)
				}
			}
			if err := s.DeleteTokens(c, a.ID, account.TokenResetPassword); err != nil {
				t.Errorf("DeleteTokens with none left = %v, want nil", err)
			}
			if err := s.DeleteTokens(c, accountFixture("missing").ID, account.TokenVerifyEmail); err != nil {
				t.Errorf("DeleteTokens of a missing account = %v, want nil", err)
			}
		})
	})
}

// accountFixture returns a fresh account: unique id, normalized email, and a
// mixed-case handle.
func accountFixture(prefix string) account.Account {
	id := UniqueName(prefix)
	suffix := id[strings.LastIndexByte(id, '_')+1:]
	return account.Account{
		ID:           id,
		Email:        id + "@example.test",
		Handle:       "Ana_" + suffix + "X",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + suffix,
		CreatedAt:    time.Date(2024, 1, 2, 3, 4, 5, 678901234, time.UTC),
	}
}

// tokenFixture returns a token with a fresh hash (hex SHA-256, as the port says).
func tokenFixture(kind account.TokenKind, accountID string, expires time.Time) account.Token {
	sum := sha256.Sum256([]byte(UniqueName("secret")))
	return account.Token{Hash: hex.EncodeToString(sum[:]), Kind: kind, AccountID: accountID, ExpiresAt: expires}
}

// accountConcurrently runs f(0..n-1) in n goroutines released together and returns their errors.
func accountConcurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func accountErrOf[T any](_ T, err error) error { return err }

// accountCheckTime requires got to be want in UTC, to the microsecond.
func accountCheckTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero", what, got)
		}
		return
	}
	w := want.UTC().Truncate(time.Microsecond)
	if !got.Equal(w) || got.Location() != time.UTC {
		t.Errorf("%s = %v (%v), want %v in UTC", what, got, got.Location(), w)
	}
}

// accountCheck requires got to be want as stored (times in UTC to the microsecond).
func accountCheck(t *testing.T, what string, got, want account.Account) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Handle != want.Handle || got.PasswordHash != want.PasswordHash {
		t.Errorf("%s = {%s %s %s %s}, want {%s %s %s %s}", what,
			got.ID, got.Email, got.Handle, got.PasswordHash, want.ID, want.Email, want.Handle, want.PasswordHash)
	}
	accountCheckTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	accountCheckTime(t, what+": VerifiedAt", got.VerifiedAt, want.VerifiedAt)
}

// accountCheckToken requires got to be want as stored.
func accountCheckToken(t *testing.T, got, want account.Token) {
	t.Helper()
	if got.Hash != want.Hash || got.Kind != want.Kind || got.AccountID != want.AccountID {
		t.Errorf("token = {%s %s %s}, want {%s %s %s}", got.Hash, got.Kind, got.AccountID, want.Hash, want.Kind, want.AccountID)
	}
	accountCheckTime(t, "token ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

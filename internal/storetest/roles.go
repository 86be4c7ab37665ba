package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// RoleStore is the conformance suite of the roles part of the account port:
// granting adds a role and granting it again is a no-op; Roles is sorted and
// an empty (non-nil) slice for none; revoking removes a role and revoking one
// not held succeeds; granting to a missing account is storage.ErrNotFound
// (and leaves no role behind); roles are per account; the account's Delete
// removes its roles.
func RoleStore(t *testing.T, open func(t *testing.T) account.Store) {
	roleSetup := func(t *testing.T) (account.Store, context.Context) { return migrated(t, open) }
	// roleAccount creates a fresh account and returns its id.
	roleAccount := func(t *testing.T, c context.Context, s account.Store, prefix string) string {
		t.Helper()
		a := accountFixture(prefix)
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		return a.ID
	}
	roleGrant := func(t *testing.T, c context.Context, s account.Store, id, role string) {
		t.Helper()
		if err := s.GrantRole(c, id, role); err != nil {
			t.Fatalf("GrantRole(%s): %v", role, err)
		}
	}
	roleCheck := func(t *testing.T, c context.Context, s account.Store, id string, want ...string) {
		t.Helper()
		got, err := s.Roles(c, id)
		if err != nil {
			t.Fatalf("Roles: %v", err)
		}
		if got == nil {
			t.Fatalf("Roles = nil, want non-nil %q", want)
		}
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Roles = %q, want %q", got, want)
		}
	}

	t.Run("none", func(t *testing.T) {
		s, c := roleSetup(t)
		roleCheck(t, c, s, roleAccount(t, c, s, "acc"))
		roleCheck(t, c, s, accountFixture("missing").ID)
	})

	t.Run("grant", func(t *testing.T) {
		s, c := roleSetup(t)
		id := roleAccount(t, c, s, "acc")
		roleGrant(t, c, s, id, account.RoleAnalyst)
		roleCheck(t, c, s, id, account.RoleAnalyst)
		roleGrant(t, c, s, id, account.RoleAnalyst)
		roleCheck(t, c, s, id, account.RoleAnalyst)
	})

	t.Run("sorted", func(t *testing.T) {
		s, c := roleSetup(t)
		id := roleAccount(t, c, s, "acc")
		// Granted out of order, with a byte-order-sensitive extra role.
		for _, r := range []string{"zeta", account.RoleAnalyst, "Beta", account.RoleAdmin} {
			roleGrant(t, c, s, id, r)
		}
		roleCheck(t, c, s, id, "Beta", account.RoleAdmin, account.RoleAnalyst, "zeta")
	})

	t.Run("revoke", func(t *testing.T) {
		s, c := roleSetup(t)
		id := roleAccount(t, c, s, "acc")
		roleGrant(t, c, s, id, account.RoleAdmin)
		roleGrant(t, c, s, id, account.RoleAnalyst)
		if err := s.RevokeRole(c, id, account.RoleAdmin); err != nil {
			t.Fatalf("RevokeRole: %v", err)
		}
		roleCheck(t, c, s, id, account.RoleAnalyst)
		if err := s.RevokeRole(c, id, account.RoleAdmin); err != nil {
			t.Errorf("RevokeRole of a role not held: %v", err)
		}
		if err := s.RevokeRole(c, accountFixture("missing").ID, account.RoleAdmin); err != nil {
			t.Errorf("RevokeRole on a missing account: %v", err)
		}
		roleCheck(t, c, s, id, account.RoleAnalyst)
		if err := s.RevokeRole(c, id, account.RoleAnalyst); err != nil {
			t.Fatalf("RevokeRole: %v", err)
		}
		roleCheck(t, c, s, id)
		// A revoked role can be granted again.
		roleGrant(t, c, s, id, account.RoleAdmin)
		roleCheck(t, c, s, id, account.RoleAdmin)
	})

	t.Run("unknown account", func(t *testing.T) {
		s, c := roleSetup(t)
		id := accountFixture("missing").ID
		if err := s.GrantRole(c, id, account.RoleAdmin); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GrantRole on a missing account = %v, want storage.ErrNotFound", err)
		}
		roleCheck(t, c, s, id)
		// Creating the account afterwards does not reveal a role.
		a := accountFixture("late")
		a.ID = id
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		roleCheck(t, c, s, id)
	})

	t.Run("isolation", func(t *testing.T) {
		s, c := roleSetup(t)
		a, b := roleAccount(t, c, s, "a"), roleAccount(t, c, s, "b")
		roleGrant(t, c, s, a, account.RoleAdmin)
		roleGrant(t, c, s, b, account.RoleAnalyst)
		roleCheck(t, c, s, a, account.RoleAdmin)
		roleCheck(t, c, s, b, account.RoleAnalyst)
		if err := s.RevokeRole(c, b, account.RoleAdmin); err != nil {
			t.Fatalf("RevokeRole: %v", err)
		}
		roleCheck(t, c, s, a, account.RoleAdmin)
		if err := s.RevokeRole(c, a, account.RoleAdmin); err != nil {
			t.Fatalf("RevokeRole: %v", err)
		}
		roleCheck(t, c, s, a)
		roleCheck(t, c, s, b, account.RoleAnalyst)
	})

	t.Run("delete removes roles", func(t *testing.T) {
		s, c := roleSetup(t)
		id, other := roleAccount(t, c, s, "acc"), roleAccount(t, c, s, "other")
		roleGrant(t, c, s, id, account.RoleAdmin)
		roleGrant(t, c, s, id, account.RoleAnalyst)
		roleGrant(t, c, s, other, account.RoleAdmin)
		if err := s.Delete(c, id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		roleCheck(t, c, s, id)
		roleCheck(t, c, s, other, account.RoleAdmin)
		if err := s.GrantRole(c, id, account.RoleAdmin); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GrantRole after Delete = %v, want storage.ErrNotFound", err)
		}
		// Re-creating the id starts without roles.
		a := accountFixture("again")
		a.ID = id
		if err := s.Create(c, a); err != nil {
			t.Fatalf("Create: %v", err)
		}
		roleCheck(t, c, s, id)
	})
}

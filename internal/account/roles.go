package account

import "context"

// Roles a user can be granted.
const (
	// RoleAnalyst reads platform-wide analytics.
	RoleAnalyst = "analyst"
	// RoleAdmin operates the platform.
	RoleAdmin = "admin"
)

// KnownRoles lists every grantable role.
var KnownRoles = []string{RoleAdmin, RoleAnalyst}

// RoleStore is the roles part of the account port. Every adapter passes
// storetest.RoleStore.
type RoleStore interface {
	// GrantRole gives the account a role; granting it again is a no-op.
	// storage.ErrNotFound when the account does not exist.
	GrantRole(ctx context.Context, accountID, role string) error
	// RevokeRole takes a role away; revoking a role not held succeeds.
	RevokeRole(ctx context.Context, accountID, role string) error
	// Roles returns the account's roles, sorted; none is an empty slice.
	Roles(ctx context.Context, accountID string) ([]string, error)
}

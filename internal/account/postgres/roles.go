package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ejazz/ejazz/internal/storage"
)

// GrantRole inserts the role only if the account exists, in one statement:
// the account row is locked FOR SHARE (a concurrent Delete waits for it), the
// INSERT … SELECT adds the role unless held, and the result says whether the
// account was there. Granting a held role is a no-op.
func (s *Store) GrantRole(ctx context.Context, accountID, role string) error {
	var exists bool
	err := s.db.QueryRow(ctx, `WITH acc AS (SELECT id FROM accounts WHERE id = $1 FOR SHARE),
ins AS (INSERT INTO account_roles (account_id, role, granted_at)
	SELECT id, $2, now() FROM acc
	ON CONFLICT (account_id, role) DO NOTHING)
SELECT EXISTS (SELECT 1 FROM acc)`, accountID, role).Scan(&exists)
	if err != nil {
		return fmt.Errorf("account %s: grant role %s: %w", accountID, role, err)
	}
	if !exists {
		return fmt.Errorf("account %s: %w", accountID, storage.ErrNotFound)
	}
	return nil
}

// RevokeRole deletes the role; a role not held is a no-op.
func (s *Store) RevokeRole(ctx context.Context, accountID, role string) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM account_roles WHERE account_id = $1 AND role = $2", accountID, role); err != nil {
		return fmt.Errorf("account %s: revoke role %s: %w", accountID, role, err)
	}
	return nil
}

// Roles returns the account's roles sorted; none is an empty slice.
func (s *Store) Roles(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT role FROM account_roles WHERE account_id = $1 ORDER BY role COLLATE "C"`, accountID)
	if err != nil {
		return nil, fmt.Errorf("account %s: roles: %w", accountID, err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("account %s: roles: %w", accountID, err)
	}
	if roles == nil {
		roles = []string{}
	}
	return roles, nil
}

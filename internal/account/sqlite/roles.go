package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// GrantRole inserts the role only if the account exists, in one write
// transaction whose first statement is the INSERT … SELECT (it takes SQLite's
// write lock, so a concurrent Delete cannot slip between it and the check).
// No row inserted means the role was held already or the account is missing.
func (s *Store) GrantRole(ctx context.Context, accountID, role string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("account %s: grant role %s: %w", accountID, role, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `INSERT INTO account_roles (account_id, role, granted_at)
SELECT id, ?, ? FROM accounts WHERE id = ?
ON CONFLICT (account_id, role) DO NOTHING`, role, formatTime(time.Now()), accountID)
	if err != nil {
		return fmt.Errorf("account %s: grant role %s: %w", accountID, role, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("account %s: grant role %s: %w", accountID, role, err)
	}
	if n == 0 {
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)", accountID).Scan(&exists); err != nil {
			return fmt.Errorf("account %s: grant role %s: %w", accountID, role, err)
		}
		if !exists {
			return fmt.Errorf("account %s: %w", accountID, storage.ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account %s: grant role %s: %w", accountID, role, err)
	}
	return nil
}

// RevokeRole deletes the role; a role not held is a no-op.
func (s *Store) RevokeRole(ctx context.Context, accountID, role string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM account_roles WHERE account_id = ? AND role = ?", accountID, role); err != nil {
		return fmt.Errorf("account %s: revoke role %s: %w", accountID, role, err)
	}
	return nil
}

// Roles returns the account's roles sorted; none is an empty slice.
func (s *Store) Roles(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT role FROM account_roles WHERE account_id = ? ORDER BY role", accountID)
	if err != nil {
		return nil, fmt.Errorf("account %s: roles: %w", accountID, err)
	}
	defer func() { _ = rows.Close() }()
	roles := []string{}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("account %s: roles: %w", accountID, err)
		}
		roles = append(roles, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("account %s: roles: %w", accountID, err)
	}
	return roles, nil
}

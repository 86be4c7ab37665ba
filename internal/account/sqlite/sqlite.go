// Package sqlite implements the account store port on SQLite (embedded profile).
//
// Times are stored in UTC as fixed-width RFC 3339 text with microseconds
// ("2006-01-02T15:04:05.000000Z"), so they sort lexically and round-trip to
// the microsecond like PostgreSQL's timestamptz.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the account store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ account.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: account.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "accounts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	handle        TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	verified_at   TEXT
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (lower(email))",
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_handle ON accounts (lower(handle))",
	}},
	{Version: 2, Name: "account_tokens", Statements: []string{
		`CREATE TABLE IF NOT EXISTS account_tokens (
	hash       TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	account_id TEXT NOT NULL,
	expires_at TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS account_tokens_account ON account_tokens (account_id, kind)",
	}},
	{Version: 3, Name: "refresh_tokens", Statements: []string{
		`CREATE TABLE IF NOT EXISTS refresh_families (
	family_id  TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	revoked_at TEXT
)`,
		"CREATE INDEX IF NOT EXISTS refresh_families_account ON refresh_families (account_id)",
		`CREATE TABLE IF NOT EXISTS refresh_tokens (
	hash       TEXT PRIMARY KEY,
	family_id  TEXT NOT NULL,
	account_id TEXT NOT NULL,
	issued_at  TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	used_at    TEXT
)`,
		"CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id)",
		"CREATE INDEX IF NOT EXISTS refresh_tokens_account ON refresh_tokens (account_id)",
	}},
	{Version: 4, Name: "signing_keys", Statements: []string{
		`CREATE TABLE IF NOT EXISTS signing_keys (
	id              TEXT PRIMARY KEY,
	algorithm       TEXT NOT NULL,
	private_key_pem TEXT NOT NULL,
	created_at      TEXT NOT NULL,
	not_after       TEXT NOT NULL
)`,
	}},
	{Version: 5, Name: "sign_in_failures", Statements: []string{
		`CREATE TABLE IF NOT EXISTS sign_in_failures (
	account_id TEXT NOT NULL,
	at         TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS sign_in_failures_account ON sign_in_failures (account_id, at)",
	}},
	{Version: 6, Name: "totp", Statements: []string{
		`CREATE TABLE IF NOT EXISTS account_totp (
	account_id TEXT PRIMARY KEY,
	secret     TEXT NOT NULL,
	confirmed  INTEGER NOT NULL DEFAULT 0,
	last_step  INTEGER NOT NULL DEFAULT 0
)`,
		`CREATE TABLE IF NOT EXISTS account_recovery_codes (
	account_id TEXT NOT NULL,
	hash       TEXT NOT NULL,
	PRIMARY KEY (account_id, hash)
)`,
	}},
	{Version: 7, Name: "roles", Statements: []string{
		`CREATE TABLE IF NOT EXISTS account_roles (
	account_id TEXT NOT NULL,
	role       TEXT NOT NULL,
	granted_at TEXT NOT NULL,
	PRIMARY KEY (account_id, role)
)`,
	}},
	{Version: 8, Name: "oidc_state", Statements: []string{
		`CREATE TABLE IF NOT EXISTS oidc_records (
	kind       TEXT NOT NULL,
	id         TEXT NOT NULL,
	data       BLOB NOT NULL,
	expires_at TEXT NOT NULL,
	PRIMARY KEY (kind, id)
)`,
		"CREATE INDEX IF NOT EXISTS oidc_records_expires ON oidc_records (expires_at)",
		`CREATE TABLE IF NOT EXISTS oidc_codes (
	code       TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	expires_at TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS oidc_codes_expires ON oidc_codes (expires_at)",
	}},
}

// timeLayout is RFC 3339 with a fixed six-digit fraction; in UTC it sorts lexically.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// createAttempts bounds the retries of Create when the row it collided with
// vanished (a concurrent Delete) before it could be identified.
const createAttempts = 3

// Create inserts a; see account.Store.
func (s *Store) Create(ctx context.Context, a account.Account) error {
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	var verified any
	if !a.VerifiedAt.IsZero() {
		verified = formatTime(a.VerifiedAt)
	}
	for range createAttempts {
		// DO NOTHING without a target covers every unique index (id, email, handle).
		res, err := s.db.ExecContext(ctx, `INSERT INTO accounts (id, email, handle, password_hash, created_at, verified_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, a.Email, a.Handle, a.PasswordHash, formatTime(created), verified)
		if err != nil {
			return fmt.Errorf("account %s: create: %w", a.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("account %s: create: %w", a.ID, err)
		} else if n == 1 {
			return nil
		}
		done, err := s.explainConflict(ctx, a)
		if done {
			return err
		}
	}
	return fmt.Errorf("account %s: create: %w", a.ID, storage.ErrConflict)
}

// explainConflict finds why inserting a conflicted: another account's email
// (checked first) or handle, or the same id (a no-op when email and handle
// are the same). done is false when the conflicting row is gone.
func (s *Store) explainConflict(ctx context.Context, a account.Account) (done bool, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, email, handle, lower(email) = lower(?), lower(handle) = lower(?)
FROM accounts WHERE id = ? OR lower(email) = lower(?) OR lower(handle) = lower(?)`,
		a.Email, a.Handle, a.ID, a.Email, a.Handle)
	if err != nil {
		return true, fmt.Errorf("account %s: create: %w", a.ID, err)
	}
	defer rows.Close()
	var clashes []account.Clash
	for rows.Next() {
		var c account.Clash
		if err := rows.Scan(&c.ID, &c.Email, &c.Handle, &c.SameEmail, &c.SameHandle); err != nil {
			return true, fmt.Errorf("account %s: create: %w", a.ID, err)
		}
		clashes = append(clashes, c)
	}
	if err := rows.Err(); err != nil {
		return true, fmt.Errorf("account %s: create: %w", a.ID, err)
	}
	return account.ExplainCreateConflict(a, clashes)
}

const selectAccount = `SELECT id, email, handle, password_hash, created_at, verified_at FROM accounts `

func scanAccount(row interface{ Scan(...any) error }) (account.Account, error) {
	var a account.Account
	var created string
	var verified sql.NullString
	if err := row.Scan(&a.ID, &a.Email, &a.Handle, &a.PasswordHash, &created, &verified); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return account.Account{}, storage.ErrNotFound
		}
		return account.Account{}, err
	}
	var err error
	if a.CreatedAt, err = parseTime(created); err != nil {
		return account.Account{}, err
	}
	if verified.Valid {
		if a.VerifiedAt, err = parseTime(verified.String); err != nil {
			return account.Account{}, err
		}
	}
	return a, nil
}

// Get returns the account with id.
func (s *Store) Get(ctx context.Context, id string) (account.Account, error) {
	a, err := scanAccount(s.db.QueryRowContext(ctx, selectAccount+"WHERE id = ?", id))
	if err != nil {
		return account.Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	return a, nil
}

// ScanAccounts pages through the accounts by ID; the cursor is the last ID.
func (s *Store) ScanAccounts(ctx context.Context, cursor string, limit int) ([]account.Account, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("scan accounts: limit %d must be positive", limit)
	}
	rows, err := s.db.QueryContext(ctx, selectAccount+"WHERE id > ? ORDER BY id LIMIT ?", cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("scan accounts: %w", err)
	}
	defer rows.Close()
	var out []account.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, "", fmt.Errorf("scan accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("scan accounts: %w", err)
	}
	if len(out) < limit {
		return out, "", nil
	}
	return out, out[len(out)-1].ID, nil
}

// GetByEmail returns the account with email (compared like the unique index).
func (s *Store) GetByEmail(ctx context.Context, email string) (account.Account, error) {
	a, err := scanAccount(s.db.QueryRowContext(ctx, selectAccount+"WHERE lower(email) = lower(?)", email))
	if err != nil {
		// The email is personal data: keep it out of error messages.
		return account.Account{}, fmt.Errorf("account by email: %w", err)
	}
	return a, nil
}

// GetByHandle returns the account with handle, case-insensitively.
func (s *Store) GetByHandle(ctx context.Context, handle string) (account.Account, error) {
	a, err := scanAccount(s.db.QueryRowContext(ctx, selectAccount+"WHERE lower(handle) = lower(?)", handle))
	if err != nil {
		return account.Account{}, fmt.Errorf("account @%s: %w", handle, err)
	}
	return a, nil
}

// updateOne runs an UPDATE of the account id and maps "no row" to ErrNotFound.
func (s *Store) updateOne(ctx context.Context, id, op, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("account %s: %s: %w", id, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("account %s: %s: %w", id, op, err)
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", id, storage.ErrNotFound)
	}
	return nil
}

// MarkVerified sets verified_at unless already set.
func (s *Store) MarkVerified(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("account %s: mark verified: zero time", id)
	}
	return s.updateOne(ctx, id, "mark verified",
		"UPDATE accounts SET verified_at = COALESCE(verified_at, ?) WHERE id = ?", formatTime(at), id)
}

// SetPasswordHash replaces the password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	return s.updateOne(ctx, id, "set password", "UPDATE accounts SET password_hash = ? WHERE id = ?", hash, id)
}

// Delete removes the account, its tokens, sessions, sign-in failures, TOTP
// enrollment, recovery codes and roles in one transaction.
func (s *Store) Delete(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("account %s: delete: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "DELETE FROM accounts WHERE id = ?", id); err != nil {
		return fmt.Errorf("account %s: delete: %w", id, err)
	}
	for _, table := range []string{"account_tokens", "refresh_tokens", "refresh_families", "sign_in_failures", "account_totp", "account_recovery_codes", "account_roles"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE account_id = ?", id); err != nil {
			return fmt.Errorf("account %s: delete %s: %w", id, table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("account %s: delete: %w", id, err)
	}
	return nil
}

// PutToken stores t unless its hash is already stored.
func (s *Store) PutToken(ctx context.Context, t account.Token) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO account_tokens (hash, kind, account_id, expires_at)
VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`, t.Hash, string(t.Kind), t.AccountID, formatTime(t.ExpiresAt)); err != nil {
		return fmt.Errorf("account %s: put %s token: %w", t.AccountID, t.Kind, err)
	}
	return nil
}

// ConsumeToken deletes and returns the token in one statement, so only one
// caller ever gets it.
func (s *Store) ConsumeToken(ctx context.Context, kind account.TokenKind, hash string, now time.Time) (account.Token, error) {
	t := account.Token{Hash: hash, Kind: kind}
	var expires string
	err := s.db.QueryRowContext(ctx, "DELETE FROM account_tokens WHERE hash = ? AND kind = ? RETURNING account_id, expires_at",
		hash, string(kind)).Scan(&t.AccountID, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return account.Token{}, fmt.Errorf("%s token: %w", kind, storage.ErrNotFound)
	}
	if err != nil {
		return account.Token{}, fmt.Errorf("consume %s token: %w", kind, err)
	}
	if t.ExpiresAt, err = parseTime(expires); err != nil {
		return account.Token{}, fmt.Errorf("consume %s token: %w", kind, err)
	}
	if now.After(t.ExpiresAt) {
		return account.Token{}, fmt.Errorf("account %s: %s token: %w", t.AccountID, kind, account.ErrExpired)
	}
	return t, nil
}

// DeleteTokens removes the account's tokens of kind.
func (s *Store) DeleteTokens(ctx context.Context, accountID string, kind account.TokenKind) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM account_tokens WHERE account_id = ? AND kind = ?", accountID, string(kind)); err != nil {
		return fmt.Errorf("account %s: delete %s tokens: %w", accountID, kind, err)
	}
	return nil
}

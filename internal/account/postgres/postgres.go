// Package postgres implements the account store port on PostgreSQL (scale profile).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ejazz/ejazz/internal/account"
	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the account store on PostgreSQL.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ account.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: account.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "accounts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS accounts (
	id            text PRIMARY KEY,
	email         text NOT NULL,
	handle        text NOT NULL,
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	verified_at   timestamptz
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (lower(email))",
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_handle ON accounts (lower(handle))",
	}},
	{Version: 2, Name: "account_tokens", Statements: []string{
		`CREATE TABLE IF NOT EXISTS account_tokens (
	hash       text PRIMARY KEY,
	kind       text NOT NULL,
	account_id text NOT NULL,
	expires_at timestamptz NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS account_tokens_account ON account_tokens (account_id, kind)",
	}},
	{Version: 3, Name: "refresh_tokens", Statements: []string{
		`CREATE TABLE IF NOT EXISTS refresh_families (
	family_id  text PRIMARY KEY,
	account_id text NOT NULL,
	revoked_at timestamptz
)`,
		"CREATE INDEX IF NOT EXISTS refresh_families_account ON refresh_families (account_id)",
		`CREATE TABLE IF NOT EXISTS refresh_tokens (
	hash       text PRIMARY KEY,
	family_id  text NOT NULL,
	account_id text NOT NULL,
	issued_at  timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
)`,
		"CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id)",
		"CREATE INDEX IF NOT EXISTS refresh_tokens_account ON refresh_tokens (account_id)",
	}},
	{Version: 4, Name: "signing_keys", Statements: []string{
		`CREATE TABLE IF NOT EXISTS signing_keys (
	id              text PRIMARY KEY,
	algorithm       text NOT NULL,
	private_key_pem text NOT NULL,
	created_at      timestamptz NOT NULL,
	not_after       timestamptz NOT NULL
)`,
	}},
	{Version: 5, Name: "sign_in_failures", Statements: []string{
		`CREATE TABLE IF NOT EXISTS sign_in_failures (
	account_id text NOT NULL,
	at         timestamptz NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS sign_in_failures_account ON sign_in_failures (account_id, at)",
	}},
	{Version: 6, Name: "totp", Statements: []string{
		`CREATE TABLE IF NOT EXISTS account_totp (
	account_id text PRIMARY KEY,
	secret     text NOT NULL,
	confirmed  boolean NOT NULL DEFAULT false,
	last_step  bigint NOT NULL DEFAULT 0
)`,
		`CREATE TABLE IF NOT EXISTS account_recovery_codes (
	account_id text NOT NULL,
	hash       text NOT NULL,
	PRIMARY KEY (account_id, hash)
)`,
	}},
	{Version: 7, Name: "roles", Statements: []string{
		`CREATE TABLE IF NOT EXISTS account_roles (
	account_id text NOT NULL,
	role       text NOT NULL,
	granted_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, role)
)`,
	}},
	{Version: 8, Name: "oidc_state", Statements: []string{
		`CREATE TABLE IF NOT EXISTS oidc_records (
	kind       text NOT NULL,
	id         text NOT NULL,
	data       bytea NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (kind, id)
)`,
		"CREATE INDEX IF NOT EXISTS oidc_records_expires ON oidc_records (expires_at)",
		`CREATE TABLE IF NOT EXISTS oidc_codes (
	code       text PRIMARY KEY,
	request_id text NOT NULL,
	expires_at timestamptz NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS oidc_codes_expires ON oidc_codes (expires_at)",
	}},
}

// ts is t in UTC truncated to timestamptz's microsecond (PostgreSQL would
// round a finer time, pgx truncates; truncate explicitly to be sure).
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// createAttempts bounds the retries of Create when the row it collided with
// vanished (a concurrent Delete) before it could be identified.
const createAttempts = 3

// Create inserts a; see account.Store. The insert is one statement whose ON
// CONFLICT DO NOTHING arbitrates every unique index (id, email, handle), so
// of concurrent creations with one email exactly one inserts; a conflict is
// then explained by reading the rows that caused it.
func (s *Store) Create(ctx context.Context, a account.Account) error {
	created := a.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	var verified *time.Time
	if !a.VerifiedAt.IsZero() {
		v := ts(a.VerifiedAt)
		verified = &v
	}
	for range createAttempts {
		tag, err := s.db.Exec(ctx, `INSERT INTO accounts (id, email, handle, password_hash, created_at, verified_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			a.ID, a.Email, a.Handle, a.PasswordHash, ts(created), verified)
		if err != nil {
			return fmt.Errorf("account %s: create: %w", a.ID, err)
		}
		if tag.RowsAffected() == 1 {
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
	rows, err := s.db.Query(ctx, `SELECT id, email, handle, lower(email) = lower($2), lower(handle) = lower($3)
FROM accounts WHERE id = $1 OR lower(email) = lower($2) OR lower(handle) = lower($3)`,
		a.ID, a.Email, a.Handle)
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

func scanAccount(row pgx.Row) (account.Account, error) {
	var a account.Account
	var verified *time.Time
	if err := row.Scan(&a.ID, &a.Email, &a.Handle, &a.PasswordHash, &a.CreatedAt, &verified); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return account.Account{}, storage.ErrNotFound
		}
		return account.Account{}, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	if verified != nil {
		a.VerifiedAt = verified.UTC()
	}
	return a, nil
}

// Get returns the account with id.
func (s *Store) Get(ctx context.Context, id string) (account.Account, error) {
	a, err := scanAccount(s.db.QueryRow(ctx, selectAccount+"WHERE id = $1", id))
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
	rows, err := s.db.Query(ctx, selectAccount+"WHERE id > $1 ORDER BY id LIMIT $2", cursor, limit)
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
	a, err := scanAccount(s.db.QueryRow(ctx, selectAccount+"WHERE lower(email) = lower($1)", email))
	if err != nil {
		// The email is personal data: keep it out of error messages.
		return account.Account{}, fmt.Errorf("account by email: %w", err)
	}
	return a, nil
}

// GetByHandle returns the account with handle, case-insensitively.
func (s *Store) GetByHandle(ctx context.Context, handle string) (account.Account, error) {
	a, err := scanAccount(s.db.QueryRow(ctx, selectAccount+"WHERE lower(handle) = lower($1)", handle))
	if err != nil {
		return account.Account{}, fmt.Errorf("account @%s: %w", handle, err)
	}
	return a, nil
}

// updateOne runs an UPDATE of the account id and maps "no row" to ErrNotFound.
func (s *Store) updateOne(ctx context.Context, id, op, query string, args ...any) error {
	tag, err := s.db.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("account %s: %s: %w", id, op, err)
	}
	if tag.RowsAffected() == 0 {
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
		"UPDATE accounts SET verified_at = COALESCE(verified_at, $2) WHERE id = $1", id, ts(at))
}

// SetPasswordHash replaces the password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	return s.updateOne(ctx, id, "set password", "UPDATE accounts SET password_hash = $2 WHERE id = $1", id, hash)
}

// Delete removes the account, its tokens, sessions, sign-in failures, TOTP
// enrollment, recovery codes and roles in one statement.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `WITH tokens AS (DELETE FROM account_tokens WHERE account_id = $1),
refresh AS (DELETE FROM refresh_tokens WHERE account_id = $1),
families AS (DELETE FROM refresh_families WHERE account_id = $1),
failures AS (DELETE FROM sign_in_failures WHERE account_id = $1),
totp AS (DELETE FROM account_totp WHERE account_id = $1),
recovery AS (DELETE FROM account_recovery_codes WHERE account_id = $1),
roles AS (DELETE FROM account_roles WHERE account_id = $1)
DELETE FROM accounts WHERE id = $1`, id); err != nil {
		return fmt.Errorf("account %s: delete: %w", id, err)
	}
	return nil
}

// PutToken stores t unless its hash is already stored.
func (s *Store) PutToken(ctx context.Context, t account.Token) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO account_tokens (hash, kind, account_id, expires_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING`, t.Hash, string(t.Kind), t.AccountID, ts(t.ExpiresAt)); err != nil {
		return fmt.Errorf("account %s: put %s token: %w", t.AccountID, t.Kind, err)
	}
	return nil
}

// ConsumeToken deletes and returns the token in one statement; concurrent
// callers serialize on the row lock and only the first gets it.
func (s *Store) ConsumeToken(ctx context.Context, kind account.TokenKind, hash string, now time.Time) (account.Token, error) {
	t := account.Token{Hash: hash, Kind: kind}
	err := s.db.QueryRow(ctx, "DELETE FROM account_tokens WHERE hash = $1 AND kind = $2 RETURNING account_id, expires_at",
		hash, string(kind)).Scan(&t.AccountID, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Token{}, fmt.Errorf("%s token: %w", kind, storage.ErrNotFound)
	}
	if err != nil {
		return account.Token{}, fmt.Errorf("consume %s token: %w", kind, err)
	}
	t.ExpiresAt = t.ExpiresAt.UTC()
	if now.After(t.ExpiresAt) {
		return account.Token{}, fmt.Errorf("account %s: %s token: %w", t.AccountID, kind, account.ErrExpired)
	}
	return t, nil
}

// DeleteTokens removes the account's tokens of kind.
func (s *Store) DeleteTokens(ctx context.Context, accountID string, kind account.TokenKind) error {
	if _, err := s.db.Exec(ctx, "DELETE FROM account_tokens WHERE account_id = $1 AND kind = $2", accountID, string(kind)); err != nil {
		return fmt.Errorf("account %s: delete %s tokens: %w", accountID, kind, err)
	}
	return nil
}

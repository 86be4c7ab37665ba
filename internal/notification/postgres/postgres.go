// Package postgres implements, on PostgreSQL (scale profile), the
// notification preference store (Preferences) and the live-stream broker
// (Broker, LISTEN/NOTIFY).
//
// Preferences: one row per user who changed a setting — every kind's
// setting as jsonb, the digest frequency, whether any kind has email on
// (a partial index by (digest, user_id) of those rows is what digest runs
// page through) and the period of the last digest, claimed with one
// conditional UPDATE so a retried digest run never mails a user twice.
// Secrets (the key that signs unsubscribe links) live in their own table,
// created once by whichever process asks first.
package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// Preferences is the notification preference store on PostgreSQL.
type Preferences struct {
	storage.Component
	db *engine.DB
}

var _ notification.PreferenceStore = (*Preferences)(nil)

// NewPreferences returns the store on a shared pool; call Migrate before use.
func NewPreferences(db *engine.DB) *Preferences {
	return &Preferences{
		Component: storage.Component{ID: notification.PreferencesComponent, EngineName: "postgres", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "preferences", Statements: []string{
		`CREATE TABLE IF NOT EXISTS notification_preferences (
	user_id        text PRIMARY KEY,
	kinds          jsonb       NOT NULL,
	digest         smallint    NOT NULL,
	email_any      boolean     NOT NULL,
	last_digest_at timestamptz,
	updated_at     timestamptz NOT NULL DEFAULT now()
)`,
		"CREATE INDEX IF NOT EXISTS notification_preferences_digest ON notification_preferences (digest, user_id) WHERE email_any",
		`CREATE TABLE IF NOT EXISTS notification_secrets (
	name   text PRIMARY KEY,
	secret bytea NOT NULL
)`,
	}},
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func get(ctx context.Context, q querier, userID string, lock bool) (notification.Preferences, error) {
	stmt := `SELECT kinds, digest FROM notification_preferences WHERE user_id = $1`
	if lock {
		stmt += ` FOR UPDATE`
	}
	var kinds []byte
	var digest int16
	err := q.QueryRow(ctx, stmt, userID).Scan(&kinds, &digest)
	if errors.Is(err, pgx.ErrNoRows) {
		return notification.Defaults(), nil
	}
	if err != nil {
		return notification.Preferences{}, err
	}
	return notification.UnmarshalKinds(kinds, notification.Frequency(digest))
}

// Preferences returns userID's settings.
func (p *Preferences) Preferences(ctx context.Context, userID string) (notification.Preferences, error) {
	out, err := get(ctx, p.db, userID, false)
	return out, wrap("get", err)
}

// UpdatePreferences applies c in one transaction (the row locked).
func (p *Preferences) UpdatePreferences(ctx context.Context, userID string, c notification.Change) (notification.Preferences, error) {
	var out notification.Preferences
	err := pgx.BeginFunc(ctx, p.db.Pool, func(tx pgx.Tx) error {
		// Make sure a row exists to lock, so concurrent first updates
		// serialize too.
		if _, err := tx.Exec(ctx, `INSERT INTO notification_preferences (user_id, kinds, digest, email_any) VALUES ($1, '{}'::jsonb, $2, false)
ON CONFLICT (user_id) DO NOTHING`, userID, int16(notification.DefaultFrequency)); err != nil {
			return err
		}
		cur, err := get(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		out = cur.Apply(c)
		kinds, err := notification.MarshalKinds(out)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE notification_preferences SET kinds = $2::jsonb, digest = $3, email_any = $4, updated_at = now() WHERE user_id = $1`,
			userID, string(kinds), int16(out.Digest), out.EmailAny())
		return err
	})
	return out, wrap("update", err)
}

// DigestRecipients pages through the users of freq with email on.
func (p *Preferences) DigestRecipients(ctx context.Context, freq notification.Frequency, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("notification preferences: limit %d must be positive", limit)
	}
	rows, err := p.db.Query(ctx, `SELECT user_id FROM notification_preferences WHERE digest = $1 AND email_any AND user_id > $2
ORDER BY user_id LIMIT $3`, int16(freq), after, limit)
	if err != nil {
		return nil, wrap("digest recipients", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("digest recipients", err)
}

// ClaimDigest moves userID's last digest period forward to period, in one
// statement.
func (p *Preferences) ClaimDigest(ctx context.Context, userID string, period time.Time) (time.Time, bool, error) {
	period = period.UTC().Truncate(time.Microsecond)
	var last *time.Time
	err := p.db.QueryRow(ctx, `WITH old AS (
	SELECT user_id, last_digest_at FROM notification_preferences WHERE user_id = $1 FOR UPDATE
)
UPDATE notification_preferences p SET last_digest_at = $2
FROM old WHERE p.user_id = old.user_id AND (old.last_digest_at IS NULL OR old.last_digest_at < $2)
RETURNING old.last_digest_at`, userID, period).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		// No row (never changed a setting), or already claimed.
		tag, err := p.db.Exec(ctx, `INSERT INTO notification_preferences (user_id, kinds, digest, email_any, last_digest_at) VALUES ($1, '{}'::jsonb, $2, false, $3)
ON CONFLICT (user_id) DO NOTHING`, userID, int16(notification.DefaultFrequency), period)
		if err != nil {
			return time.Time{}, false, wrap("claim digest", err)
		}
		return time.Time{}, tag.RowsAffected() == 1, nil
	}
	if err != nil {
		return time.Time{}, false, wrap("claim digest", err)
	}
	if last == nil {
		return time.Time{}, true, nil
	}
	return last.UTC(), true, nil
}

// Secret returns the secret called name, made on first use.
func (p *Preferences) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if _, err := p.db.Exec(ctx, `INSERT INTO notification_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, wrap("secret", err)
	}
	var out []byte
	err := p.db.QueryRow(ctx, `SELECT secret FROM notification_secrets WHERE name = $1`, name).Scan(&out)
	return out, wrap("secret", err)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("notification preferences: %s: %w", op, err)
}

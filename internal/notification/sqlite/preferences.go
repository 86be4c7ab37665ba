package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// Preferences is the notification preference store on SQLite: one row per
// user who changed a setting (every kind's setting as JSON, the digest
// frequency, whether any kind has email on, the last digest's period) and
// the secrets table. A partial index by (digest, user_id) of the rows with
// email on is what digest runs page through.
type Preferences struct {
	storage.Component
	db *engine.DB
}

var _ notification.PreferenceStore = (*Preferences)(nil)

// NewPreferences returns the store on a shared connection; call Migrate
// before use.
func NewPreferences(db *engine.DB) *Preferences {
	return &Preferences{
		Component: storage.Component{ID: notification.PreferencesComponent, EngineName: "sqlite", Engine: db, Migrations: prefMigrations},
		db:        db,
	}
}

// prefMigrations are the store's schema versions; append, never edit a
// released one.
var prefMigrations = []storage.Migration{
	{Version: 1, Name: "preferences", Statements: []string{
		`CREATE TABLE IF NOT EXISTS notification_preferences (
	user_id        TEXT    PRIMARY KEY,
	kinds          TEXT    NOT NULL,
	digest         INTEGER NOT NULL,
	email_any      INTEGER NOT NULL,
	last_digest_at INTEGER NOT NULL DEFAULT 0,
	updated_at     INTEGER NOT NULL
) WITHOUT ROWID`,
		"CREATE INDEX IF NOT EXISTS notification_preferences_digest ON notification_preferences (digest, user_id) WHERE email_any = 1",
		`CREATE TABLE IF NOT EXISTS notification_secrets (
	name   TEXT PRIMARY KEY,
	secret BLOB NOT NULL
)`,
	}},
}

func (p *Preferences) get(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, userID string) (notification.Preferences, bool, error) {
	var kinds string
	var digest int
	err := q.QueryRowContext(ctx, `SELECT kinds, digest FROM notification_preferences WHERE user_id = ?`, userID).Scan(&kinds, &digest)
	if errors.Is(err, sql.ErrNoRows) {
		return notification.Defaults(), false, nil
	}
	if err != nil {
		return notification.Preferences{}, false, err
	}
	out, err := notification.UnmarshalKinds([]byte(kinds), notification.Frequency(digest))
	return out, true, err
}

// Preferences returns userID's settings.
func (p *Preferences) Preferences(ctx context.Context, userID string) (notification.Preferences, error) {
	out, _, err := p.get(ctx, p.db, userID)
	return out, wrapPref("get", err)
}

// UpdatePreferences applies c in one transaction.
func (p *Preferences) UpdatePreferences(ctx context.Context, userID string, c notification.Change) (notification.Preferences, error) {
	var out notification.Preferences
	err := p.db.Write(ctx, func(tx *sql.Tx) error {
		cur, _, err := p.get(ctx, tx, userID)
		if err != nil {
			return err
		}
		out = cur.Apply(c)
		kinds, err := notification.MarshalKinds(out)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notification_preferences (user_id, kinds, digest, email_any, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET kinds = excluded.kinds, digest = excluded.digest, email_any = excluded.email_any, updated_at = excluded.updated_at`,
			userID, string(kinds), int(out.Digest), boolInt(out.EmailAny()), time.Now().UnixMilli())
		return err
	})
	return out, wrapPref("update", err)
}

// DigestRecipients pages through the users of freq with email on.
func (p *Preferences) DigestRecipients(ctx context.Context, freq notification.Frequency, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("notification preferences: limit %d must be positive", limit)
	}
	rows, err := p.db.QueryContext(ctx, `SELECT user_id FROM notification_preferences WHERE digest = ? AND email_any = 1 AND user_id > ?
ORDER BY user_id LIMIT ?`, int(freq), after, limit)
	if err != nil {
		return nil, wrapPref("digest recipients", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrapPref("digest recipients", err)
		}
		out = append(out, id)
	}
	return out, wrapPref("digest recipients", rows.Err())
}

// ClaimDigest moves userID's last digest period forward to period.
func (p *Preferences) ClaimDigest(ctx context.Context, userID string, period time.Time) (time.Time, bool, error) {
	var last int64
	ok := false
	err := p.db.Write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT last_digest_at FROM notification_preferences WHERE user_id = ?`, userID).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			kinds, err := notification.MarshalKinds(notification.Defaults())
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO notification_preferences (user_id, kinds, digest, email_any, last_digest_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)`,
				userID, string(kinds), int(notification.DefaultFrequency), period.UnixMilli(), time.Now().UnixMilli())
			ok = err == nil
			return err
		}
		if err != nil {
			return err
		}
		if last >= period.UnixMilli() {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE notification_preferences SET last_digest_at = ? WHERE user_id = ?`, period.UnixMilli(), userID)
		ok = err == nil
		return err
	})
	if err != nil {
		return time.Time{}, false, wrapPref("claim digest", err)
	}
	if last == 0 || !ok {
		return time.Time{}, ok, nil
	}
	return time.UnixMilli(last).UTC(), ok, nil
}

// Secret returns the secret called name, made on first use.
func (p *Preferences) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	var out []byte
	err := p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_secrets (name, secret) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT secret FROM notification_secrets WHERE name = ?`, name).Scan(&out)
	})
	return out, wrapPref("secret", err)
}

func wrapPref(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("notification preferences: %s: %w", op, err)
}

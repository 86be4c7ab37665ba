package notification

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Frequency is how often a user gets notification emails. The values are
// the contract's (ejazz.notification.v1.EmailDigestFrequency).
type Frequency int

// Frequencies.
const (
	// FrequencyUnset leaves the frequency unchanged in an update.
	FrequencyUnset Frequency = iota
	// Never sends no notification email.
	Never
	// Immediate mails each delivered batch of email-enabled kinds.
	Immediate
	// Daily sends one digest a day of the unread notifications.
	Daily
	// Weekly sends one digest a week.
	Weekly
)

// Valid reports whether f is a frequency a user can choose.
func (f Frequency) Valid() bool { return f >= Never && f <= Weekly }

// String names f ("daily"…), as in schedule and workflow IDs.
func (f Frequency) String() string {
	switch f {
	case Never:
		return "never"
	case Immediate:
		return "immediate"
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	}
	return "unset"
}

// Period is how far back a first digest of frequency f looks.
func (f Frequency) Period() time.Duration {
	if f == Weekly {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// KindPreference is how a user wants to hear about one kind.
type KindPreference struct {
	// InApp shows it in the inbox and the live stream.
	InApp bool
	// Email includes it in notification emails.
	Email bool
}

// DefaultKind is the preference of a kind never set: in-app on, email off.
var DefaultKind = KindPreference{InApp: true}

// DefaultFrequency is the digest frequency of a user who never chose one.
// Every kind's email is off by default, so nothing is mailed until the user
// turns email on for some kind.
const DefaultFrequency = Daily

// Preferences are a user's notification settings.
type Preferences struct {
	// Kinds has an entry for every kind (defaults filled in).
	Kinds map[Kind]KindPreference
	// Digest is the email frequency.
	Digest Frequency
}

// Defaults returns the settings of a user who never changed any.
func Defaults() Preferences {
	p := Preferences{Kinds: make(map[Kind]KindPreference, len(Kinds)), Digest: DefaultFrequency}
	for _, k := range Kinds {
		p.Kinds[k] = DefaultKind
	}
	return p
}

// Kind returns the preference of k (the default when unset).
func (p Preferences) Kind(k Kind) KindPreference {
	if kp, ok := p.Kinds[k]; ok {
		return kp
	}
	return DefaultKind
}

// EmailAny reports whether some kind has email on.
func (p Preferences) EmailAny() bool {
	for _, k := range Kinds {
		if p.Kind(k).Email {
			return true
		}
	}
	return false
}

// Change is an update of preferences: the kinds listed replace their
// settings, the others stay; Digest FrequencyUnset leaves the frequency.
type Change struct {
	Kinds  map[Kind]KindPreference
	Digest Frequency
}

// Apply returns p with c applied.
func (p Preferences) Apply(c Change) Preferences {
	out := Preferences{Kinds: make(map[Kind]KindPreference, len(Kinds)), Digest: p.Digest}
	for _, k := range Kinds {
		out.Kinds[k] = p.Kind(k)
		if kp, ok := c.Kinds[k]; ok {
			out.Kinds[k] = kp
		}
	}
	if c.Digest.Valid() {
		out.Digest = c.Digest
	}
	return out
}

// PreferenceStore is the preferences port: settings per user, the digest
// bookkeeping and the secrets that sign links in mails. Every adapter passes
// storetest.PreferenceStore.
type PreferenceStore interface {
	storage.Store

	// Preferences returns userID's settings, Defaults() for a user who never
	// changed any.
	Preferences(ctx context.Context, userID string) (Preferences, error)
	// UpdatePreferences applies c to userID's settings atomically and
	// returns the result.
	UpdatePreferences(ctx context.Context, userID string, c Change) (Preferences, error)
	// DigestRecipients lists, ordered by user ID, the users after the user
	// ID after ("" for the start) whose frequency is freq and who have email
	// on for at least one kind; at most limit (> 0).
	DigestRecipients(ctx context.Context, freq Frequency, after string, limit int) ([]string, error)
	// ClaimDigest records that userID's digest of the period starting at
	// period is being sent. ok is false when a digest of this or a later
	// period was claimed already (a retried digest run skips the user);
	// last is the previous claim's period (zero if none, or when !ok).
	ClaimDigest(ctx context.Context, userID string, period time.Time) (last time.Time, ok bool, err error)
	// Secret returns the secret key called name (32 random bytes made on
	// first use and then the same for every process sharing the store).
	Secret(ctx context.Context, name string) ([]byte, error)
}

// kindJSON is a kind's stored form; its field names are a storage format
// shared by the adapters — never rename them.
type kindJSON struct {
	InApp bool `json:"in_app"`
	Email bool `json:"email"`
}

// MarshalKinds encodes every kind's setting of p as the JSON object the
// adapters store ({"like": {"in_app": true, "email": false}, …}).
func MarshalKinds(p Preferences) ([]byte, error) {
	m := make(map[string]kindJSON, len(Kinds))
	for _, k := range Kinds {
		kp := p.Kind(k)
		m[string(k)] = kindJSON(kp)
	}
	return json.Marshal(m)
}

// UnmarshalKinds decodes MarshalKinds' JSON into preferences with digest
// frequency digest; kinds missing from it (added later) get the default.
func UnmarshalKinds(b []byte, digest Frequency) (Preferences, error) {
	var m map[string]kindJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return Preferences{}, err
	}
	p := Defaults()
	for _, k := range Kinds {
		if v, ok := m[string(k)]; ok {
			p.Kinds[k] = KindPreference(v)
		}
	}
	if digest.Valid() {
		p.Digest = digest
	}
	return p, nil
}

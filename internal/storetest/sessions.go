package storetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// SessionStore is the conformance suite of the session part of the account
// port: refresh-token families (rotation returns the old token and copies
// family and account to the next one; presenting a rotated token again is
// ErrReused and revokes the family; of concurrent rotations of one token
// exactly one succeeds and the others get ErrReused; expired and unknown
// tokens; revocation by token and by account), signing keys (put is
// idempotent, listing filters by NotAfter and orders newest first, the PEM
// round-trips exactly), sign-in failure counting within a window, and
// Delete removing the account's sessions and failures.
func SessionStore(t *testing.T, open func(t *testing.T) account.Store) {
	setup := func(t *testing.T) (account.Store, context.Context) { return migrated(t, open) }
	// A fixed instant with nanoseconds, in a non-UTC zone: stores keep UTC to
	// the microsecond.
	base := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))
	const life = 30 * 24 * time.Hour

	t.Run("rotation chain and reuse", func(t *testing.T) {
		s, c := setup(t)
		other := sessionCreate(t, c, s, accountFixture("other").ID, base, base.Add(life))
		for depth := 1; depth <= 3; depth++ {
			accountID := accountFixture("acc").ID
			chain := []account.RefreshToken{sessionCreate(t, c, s, accountID, base, base.Add(life))}
			for i := range depth {
				now := base.Add(time.Duration(i+1) * time.Hour)
				next := sessionNext(now, now.Add(life))
				got, err := s.RotateRefreshToken(c, chain[i].Hash, next, now)
				if err != nil {
					t.Fatalf("depth %d: rotation %d: %v", depth, i+1, err)
				}
				sessionCheck(t, "RotateRefreshToken's old token", got, chain[i])
				next.FamilyID, next.AccountID = chain[0].FamilyID, accountID
				chain = append(chain, next)
			}
			// Every rotated token is reuse, even once the family is revoked.
			for i := range depth {
				now := base.Add(time.Duration(depth+1+i) * time.Hour)
				fresh := sessionNext(now, now.Add(life))
				if _, err := s.RotateRefreshToken(c, chain[i].Hash, fresh, now); !errors.Is(err, account.ErrReused) {
					t.Errorf("depth %d: reusing token %d = %v, want account.ErrReused", depth, i, err)
				}
				if _, err := s.RotateRefreshToken(c, fresh.Hash, sessionNext(now, now.Add(life)), now); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("depth %d: the next token of a failed rotation = %v, want storage.ErrNotFound (not stored)", depth, err)
				}
			}
			newest := chain[depth]
			now := base.Add(time.Duration(2*depth+1) * time.Hour)
			if _, err := s.RotateRefreshToken(c, newest.Hash, sessionNext(now, now.Add(life)), now); !errors.Is(err, account.ErrRevoked) {
				t.Errorf("depth %d: the newest token after reuse = %v, want account.ErrRevoked", depth, err)
			}
		}
		// Another account's family is untouched.
		if got, err := s.RotateRefreshToken(c, other.Hash, sessionNext(base, base.Add(life)), base.Add(time.Hour)); err != nil {
			t.Errorf("rotating another account's token: %v", err)
		} else {
			sessionCheck(t, "other account's old token", got, other)
		}
	})

	t.Run("the next token carries the family", func(t *testing.T) {
		s, c := setup(t)
		first := sessionCreate(t, c, s, accountFixture("acc").ID, base, base.Add(life))
		// The caller may leave FamilyID and AccountID empty, or fill them
		// wrongly: the store copies them from the old token.
		next := sessionNext(base.Add(time.Minute), base.Add(time.Minute+life))
		next.FamilyID, next.AccountID = "someone-elses-family", "someone-else"
		if _, err := s.RotateRefreshToken(c, first.Hash, next, base.Add(time.Minute)); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		got, err := s.RotateRefreshToken(c, next.Hash, sessionNext(base, base.Add(life)), base.Add(2*time.Minute))
		if err != nil {
			t.Fatalf("rotating the next token: %v", err)
		}
		want := next
		want.FamilyID, want.AccountID = first.FamilyID, first.AccountID
		sessionCheck(t, "the next token", got, want)
	})

	t.Run("concurrent rotation", func(t *testing.T) {
		s, c := setup(t)
		first := sessionCreate(t, c, s, accountFixture("acc").ID, base, base.Add(life))
		const n = 8
		nexts := make([]account.RefreshToken, n)
		for i := range nexts {
			nexts[i] = sessionNext(base.Add(time.Minute), base.Add(life))
		}
		errs := accountConcurrently(n, func(i int) error {
			_, err := s.RotateRefreshToken(c, first.Hash, nexts[i], base.Add(time.Minute))
			return err
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("rotations %d and %d both succeeded", winner, i)
			case !errors.Is(err, account.ErrReused):
				t.Errorf("losing rotation %d = %v, want account.ErrReused", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("no rotation succeeded: %v", errs)
		}
		now := base.Add(2 * time.Minute)
		for i, next := range nexts {
			_, err := s.RotateRefreshToken(c, next.Hash, sessionNext(now, now.Add(life)), now)
			switch {
			case i == winner && !errors.Is(err, account.ErrRevoked):
				t.Errorf("the winner's next token after the losers' reuse = %v, want account.ErrRevoked", err)
			case i != winner && !errors.Is(err, storage.ErrNotFound):
				t.Errorf("a loser's next token = %v, want storage.ErrNotFound (not stored)", err)
			}
		}
	})

	t.Run("expired", func(t *testing.T) {
		s, c := setup(t)
		expires := base.Add(time.Hour).Truncate(time.Microsecond)
		tok := sessionCreate(t, c, s, accountFixture("acc").ID, base, expires)
		for range 2 { // a failed rotation changes nothing: not used, family intact
			next := sessionNext(base, base.Add(life))
			if _, err := s.RotateRefreshToken(c, tok.Hash, next, expires.Add(time.Second)); !errors.Is(err, account.ErrExpired) {
				t.Errorf("rotating an expired token = %v, want account.ErrExpired", err)
			}
			if _, err := s.RotateRefreshToken(c, next.Hash, sessionNext(base, base.Add(life)), base); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("the next token of an expired rotation = %v, want storage.ErrNotFound (not stored)", err)
			}
		}
		// At ExpiresAt exactly the token is not yet past it.
		other := sessionCreate(t, c, s, tok.AccountID, base, expires)
		if _, err := s.RotateRefreshToken(c, other.Hash, sessionNext(expires, expires.Add(life)), expires); err != nil {
			t.Errorf("rotating at ExpiresAt exactly: %v", err)
		}
	})

	t.Run("unknown token", func(t *testing.T) {
		s, c := setup(t)
		if _, err := s.RotateRefreshToken(c, sessionHash(), sessionNext(base, base.Add(life)), base); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("rotating an unknown token = %v, want storage.ErrNotFound", err)
		}
		if err := s.RevokeFamily(c, sessionHash()); err != nil {
			t.Errorf("RevokeFamily of an unknown token = %v, want nil", err)
		}
	})

	t.Run("revoke family", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("acc").ID
		signedOut := sessionCreate(t, c, s, a, base, base.Add(life))
		kept := sessionCreate(t, c, s, a, base, base.Add(life))
		otherAccount := sessionCreate(t, c, s, accountFixture("other").ID, base, base.Add(life))
		for range 2 { // revoking again succeeds
			if err := s.RevokeFamily(c, signedOut.Hash); err != nil {
				t.Fatalf("RevokeFamily: %v", err)
			}
		}
		now := base.Add(time.Hour)
		if _, err := s.RotateRefreshToken(c, signedOut.Hash, sessionNext(now, now.Add(life)), now); !errors.Is(err, account.ErrRevoked) {
			t.Errorf("rotating a token of a revoked family = %v, want account.ErrRevoked", err)
		}
		var keptNext account.RefreshToken
		for _, tok := range []account.RefreshToken{kept, otherAccount} {
			next := sessionNext(now, now.Add(life))
			if got, err := s.RotateRefreshToken(c, tok.Hash, next, now); err != nil {
				t.Errorf("rotating a token of another family: %v", err)
			} else {
				sessionCheck(t, "another family's old token", got, tok)
			}
			if tok.Hash == kept.Hash {
				keptNext = next
			}
		}
		// Revoking through a rotated (older) token revokes the whole family.
		if err := s.RevokeFamily(c, kept.Hash); err != nil {
			t.Fatalf("RevokeFamily by a rotated token: %v", err)
		}
		now = now.Add(time.Hour)
		if _, err := s.RotateRefreshToken(c, keptNext.Hash, sessionNext(now, now.Add(life)), now); !errors.Is(err, account.ErrRevoked) {
			t.Errorf("the newest token of a family revoked through an older one = %v, want account.ErrRevoked", err)
		}
	})

	t.Run("revoke account sessions", func(t *testing.T) {
		s, c := setup(t)
		a := accountFixture("acc").ID
		first := sessionCreate(t, c, s, a, base, base.Add(life))
		second := sessionCreate(t, c, s, a, base, base.Add(life))
		now := base.Add(time.Minute)
		secondNext := sessionNext(now, now.Add(life))
		if _, err := s.RotateRefreshToken(c, second.Hash, secondNext, now); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		other := sessionCreate(t, c, s, accountFixture("other").ID, base, base.Add(life))
		for range 2 { // revoking again succeeds
			if err := s.RevokeAccountSessions(c, a); err != nil {
				t.Fatalf("RevokeAccountSessions: %v", err)
			}
		}
		if err := s.RevokeAccountSessions(c, accountFixture("missing").ID); err != nil {
			t.Errorf("RevokeAccountSessions of an account without sessions = %v, want nil", err)
		}
		now = now.Add(time.Minute)
		for _, tok := range []account.RefreshToken{first, secondNext} {
			if _, err := s.RotateRefreshToken(c, tok.Hash, sessionNext(now, now.Add(life)), now); !errors.Is(err, account.ErrRevoked) {
				t.Errorf("rotating a token of a revoked account = %v, want account.ErrRevoked", err)
			}
		}
		if _, err := s.RotateRefreshToken(c, other.Hash, sessionNext(now, now.Add(life)), now); err != nil {
			t.Errorf("rotating another account's token: %v", err)
		}
		// A session started afterwards (signing in with the new password) works.
		fresh := sessionCreate(t, c, s, a, now, now.Add(life))
		if _, err := s.RotateRefreshToken(c, fresh.Hash, sessionNext(now, now.Add(life)), now); err != nil {
			t.Errorf("rotating a token of a family started after the revocation: %v", err)
		}
	})

	t.Run("signing keys", func(t *testing.T) {
		s, c := setup(t)
		oldest := sessionKey("k-oldest", base.Add(-48*time.Hour), base.Add(-24*time.Hour))
		middle := sessionKey("k-middle", base.Add(-24*time.Hour), base.Add(24*time.Hour))
		newest := sessionKey("k-newest", base, base.Add(48*time.Hour))
		for _, k := range []account.SigningKey{middle, newest, oldest} {
			if err := s.PutSigningKey(c, k); err != nil {
				t.Fatalf("PutSigningKey(%s): %v", k.ID, err)
			}
		}
		// Storing the same ID again is a no-op, even with other values.
		again := sessionKey(middle.ID, base.Add(time.Hour), base.Add(72*time.Hour))
		again.Algorithm = "EdDSA"
		if err := s.PutSigningKey(c, again); err != nil {
			t.Errorf("PutSigningKey of a stored ID = %v, want nil", err)
		}
		for _, tc := range []struct {
			name  string
			since time.Time
			want  []account.SigningKey
		}{
			{"long ago", base.Add(-100 * time.Hour), []account.SigningKey{newest, middle, oldest}},
			// NotAfter must be after since: a key ending at since is out.
			{"at the oldest's NotAfter", oldest.NotAfter, []account.SigningKey{newest, middle}},
			{"now", base, []account.SigningKey{newest, middle}},
			{"after the middle's NotAfter", base.Add(25 * time.Hour), []account.SigningKey{newest}},
			{"after every NotAfter", base.Add(100 * time.Hour), nil},
		} {
			got, err := s.SigningKeys(c, tc.since)
			if err != nil {
				t.Errorf("SigningKeys(%s): %v", tc.name, err)
				continue
			}
			if len(got) != len(tc.want) {
				t.Errorf("SigningKeys(%s) = %d keys %v, want %d", tc.name, len(got), sessionKeyIDs(got), len(tc.want))
				continue
			}
			for i := range got {
				sessionCheckKey(t, "SigningKeys("+tc.name+")", got[i], tc.want[i])
			}
		}
	})

	t.Run("sign-in failures", func(t *testing.T) {
		s, c := setup(t)
		const window = 15 * time.Minute
		a, b := accountFixture("acc").ID, accountFixture("other").ID
		record := func(accountID string, at time.Time, want int) {
			t.Helper()
			if n, err := s.RecordSignInFailure(c, accountID, at, window); err != nil {
				t.Fatalf("RecordSignInFailure: %v", err)
			} else if n != want {
				t.Errorf("RecordSignInFailure at %v = %d, want %d", at, n, want)
			}
		}
		for i := range 5 {
			record(a, base.Add(time.Duration(i)*time.Second), i+1)
		}
		// Accounts do not mix; failures older than the window do not count.
		record(b, base.Add(-time.Hour), 1)
		record(b, base.Add(time.Second), 1)
		record(a, base.Add(10*time.Minute), 6)
		record(a, base.Add(window+time.Minute), 2) // the first five are out of the window
		if err := s.ClearSignInFailures(c, a); err != nil {
			t.Fatalf("ClearSignInFailures: %v", err)
		}
		record(a, base.Add(window+2*time.Minute), 1)
		record(b, base.Add(2*time.Second), 2) // b's failures survive a's Clear
		if err := s.ClearSignInFailures(c, accountFixture("missing").ID); err != nil {
			t.Errorf("ClearSignInFailures of an account without failures = %v, want nil", err)
		}
	})

	t.Run("delete removes sessions", func(t *testing.T) {
		s, c := setup(t)
		a, b := accountFixture("acc"), accountFixture("other")
		for _, acc := range []account.Account{a, b} {
			if err := s.Create(c, acc); err != nil {
				t.Fatalf("Create: %v", err)
			}
		}
		used := sessionCreate(t, c, s, a.ID, base, base.Add(life))
		next := sessionNext(base.Add(time.Minute), base.Add(life))
		if _, err := s.RotateRefreshToken(c, used.Hash, next, base.Add(time.Minute)); err != nil {
			t.Fatalf("RotateRefreshToken: %v", err)
		}
		revoked := sessionCreate(t, c, s, a.ID, base, base.Add(life))
		if err := s.RevokeFamily(c, revoked.Hash); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		kept := sessionCreate(t, c, s, b.ID, base, base.Add(life))
		key := sessionKey("k-kept", base, base.Add(life))
		if err := s.PutSigningKey(c, key); err != nil {
			t.Fatalf("PutSigningKey: %v", err)
		}
		for i := range 3 {
			if _, err := s.RecordSignInFailure(c, a.ID, base.Add(time.Duration(i)*time.Second), time.Hour); err != nil {
				t.Fatalf("RecordSignInFailure: %v", err)
			}
		}
		if _, err := s.RecordSignInFailure(c, b.ID, base, time.Hour); err != nil {
			t.Fatalf("RecordSignInFailure: %v", err)
		}
		if err := s.Delete(c, a.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		now := base.Add(2 * time.Minute)
		for _, tok := range []account.RefreshToken{used, next, revoked} {
			if _, err := s.RotateRefreshToken(c, tok.Hash, sessionNext(now, now.Add(life)), now); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("rotating a token of a deleted account = %v, want storage.ErrNotFound", err)
			}
		}
		if n, err := s.RecordSignInFailure(c, a.ID, base.Add(3*time.Second), time.Hour); err != nil || n != 1 {
			t.Errorf("RecordSignInFailure after Delete = %d, %v, want 1, nil", n, err)
		}
		if n, err := s.RecordSignInFailure(c, b.ID, base.Add(time.Second), time.Hour); err != nil || n != 2 {
			t.Errorf("RecordSignInFailure of another account after Delete = %d, %v, want 2, nil", n, err)
		}
		if _, err := s.RotateRefreshToken(c, kept.Hash, sessionNext(now, now.Add(life)), now); err != nil {
			t.Errorf("rotating another account's token after Delete: %v", err)
		}
		if keys, err := s.SigningKeys(c, base); err != nil || len(keys) != 1 {
			t.Errorf("SigningKeys after Delete = %v, %v, want the key kept", sessionKeyIDs(keys), err)
		}
	})
}

// sessionHash returns a fresh refresh-token hash (hex SHA-256, as the port says).
func sessionHash() string {
	sum := sha256.Sum256([]byte(UniqueName("refresh")))
	return hex.EncodeToString(sum[:])
}

// sessionCreate stores the first token of a new family of the account.
func sessionCreate(t *testing.T, c context.Context, s account.Store, accountID string, issued, expires time.Time) account.RefreshToken {
	t.Helper()
	tok := account.RefreshToken{Hash: sessionHash(), FamilyID: UniqueName("family"), AccountID: accountID, IssuedAt: issued, ExpiresAt: expires}
	if err := s.CreateRefreshToken(c, tok); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	return tok
}

// sessionNext returns a next token as the port asks: only Hash, IssuedAt and ExpiresAt.
func sessionNext(issued, expires time.Time) account.RefreshToken {
	return account.RefreshToken{Hash: sessionHash(), IssuedAt: issued, ExpiresAt: expires}
}

// sessionCheck requires got to be want as stored (times in UTC to the microsecond).
func sessionCheck(t *testing.T, what string, got, want account.RefreshToken) {
	t.Helper()
	if got.Hash != want.Hash || got.FamilyID != want.FamilyID || got.AccountID != want.AccountID {
		t.Errorf("%s = {%s %s %s}, want {%s %s %s}", what, got.Hash, got.FamilyID, got.AccountID, want.Hash, want.FamilyID, want.AccountID)
	}
	accountCheckTime(t, what+": IssuedAt", got.IssuedAt, want.IssuedAt)
	accountCheckTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// sessionKey returns a signing key with a fresh ES256 PKCS#8 private key.
func sessionKey(id string, created, notAfter time.Time) account.SigningKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return account.SigningKey{ID: id, Algorithm: "ES256", PrivateKeyPEM: pemText, CreatedAt: created, NotAfter: notAfter}
}

func sessionKeyIDs(keys []account.SigningKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

// sessionCheckKey requires got to be want as stored: the PEM byte for byte.
func sessionCheckKey(t *testing.T, what string, got, want account.SigningKey) {
	t.Helper()
	if got.ID != want.ID || got.Algorithm != want.Algorithm {
		t.Errorf("%s: key {%s %s}, want {%s %s}", what, got.ID, got.Algorithm, want.ID, want.Algorithm)
	}
	if got.PrivateKeyPEM != want.PrivateKeyPEM {
		t.Errorf("%s: key %s: PrivateKeyPEM does not round-trip (%d bytes, want %d)", what, want.ID, len(got.PrivateKeyPEM), len(want.PrivateKeyPEM))
	}
	accountCheckTime(t, what+": "+want.ID+" CreatedAt", got.CreatedAt, want.CreatedAt)
	accountCheckTime(t, what+": "+want.ID+" NotAfter", got.NotAfter, want.NotAfter)
}

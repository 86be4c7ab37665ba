package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/storage"
)

// OIDCStore is the conformance suite of the OIDC part of the account port:
// a record reads back until it expires (storage.ErrNotFound after, and when
// missing), Put replaces data and expiry, records are keyed by kind and id,
// Delete is idempotent; a code is taken once (ErrNotFound afterwards, when
// unknown or expired), PutOIDCCode replaces the mapping, and of concurrent
// takes of one code exactly one wins.
func OIDCStore(t *testing.T, open func(t *testing.T) account.Store) {
	setup := func(t *testing.T) (account.Store, context.Context) { return migrated(t, open) }
	now := time.Now().UTC().Truncate(time.Second)
	get := func(t *testing.T, c context.Context, s account.Store, kind, id string, at time.Time, want []byte) {
		t.Helper()
		got, err := s.GetOIDCRecord(c, kind, id, at)
		if want == nil {
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("GetOIDCRecord(%s, %s) = %q, %v; want storage.ErrNotFound", kind, id, got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("GetOIDCRecord(%s, %s): %v", kind, id, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("GetOIDCRecord(%s, %s) = %q, want %q", kind, id, got, want)
		}
	}

	t.Run("records", func(t *testing.T) {
		s, c := setup(t)
		id := UniqueName("req")
		get(t, c, s, "auth_request", id, now, nil)
		if err := s.PutOIDCRecord(c, "auth_request", id, []byte(`{"a":1}`), now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCRecord: %v", err)
		}
		get(t, c, s, "auth_request", id, now, []byte(`{"a":1}`))
		get(t, c, s, "access_token", id, now, nil) // another kind
		get(t, c, s, "auth_request", id+"x", now, nil)
		get(t, c, s, "auth_request", id, now.Add(time.Minute), nil) // expired at expiresAt
		get(t, c, s, "auth_request", id, now.Add(2*time.Minute), nil)

		// Upsert replaces data and expiry.
		if err := s.PutOIDCRecord(c, "auth_request", id, []byte(`{"a":2}`), now.Add(time.Hour)); err != nil {
			t.Fatalf("PutOIDCRecord (replace): %v", err)
		}
		get(t, c, s, "auth_request", id, now.Add(30*time.Minute), []byte(`{"a":2}`))
		if err := s.PutOIDCRecord(c, "auth_request", id, []byte(`{"a":3}`), now.Add(time.Second)); err != nil {
			t.Fatalf("PutOIDCRecord (shorten): %v", err)
		}
		get(t, c, s, "auth_request", id, now, []byte(`{"a":3}`))
		get(t, c, s, "auth_request", id, now.Add(2*time.Second), nil)

		// Binary data round-trips.
		bin := []byte{0, 1, 2, 0xff, 0xfe, 0}
		if err := s.PutOIDCRecord(c, "access_token", id, bin, now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCRecord (binary): %v", err)
		}
		get(t, c, s, "access_token", id, now, bin)

		// Delete is per kind and idempotent.
		if err := s.DeleteOIDCRecord(c, "auth_request", id); err != nil {
			t.Fatalf("DeleteOIDCRecord: %v", err)
		}
		get(t, c, s, "auth_request", id, now, nil)
		get(t, c, s, "access_token", id, now, bin)
		if err := s.DeleteOIDCRecord(c, "auth_request", id); err != nil {
			t.Fatalf("DeleteOIDCRecord (again): %v", err)
		}
		if err := s.DeleteOIDCRecord(c, "nothing", UniqueName("none")); err != nil {
			t.Fatalf("DeleteOIDCRecord (none): %v", err)
		}
	})

	t.Run("codes", func(t *testing.T) {
		s, c := setup(t)
		code, other := UniqueName("code"), UniqueName("code")
		if _, err := s.TakeOIDCCode(c, code, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("TakeOIDCCode (unknown) = %v, want storage.ErrNotFound", err)
		}
		if err := s.PutOIDCCode(c, code, "req-1", now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCCode: %v", err)
		}
		if err := s.PutOIDCCode(c, other, "req-2", now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCCode: %v", err)
		}
		// Replacing the mapping.
		if err := s.PutOIDCCode(c, code, "req-3", now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCCode (replace): %v", err)
		}
		if id, err := s.TakeOIDCCode(c, code, now); err != nil || id != "req-3" {
			t.Fatalf("TakeOIDCCode = %q, %v; want req-3", id, err)
		}
		if _, err := s.TakeOIDCCode(c, code, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("TakeOIDCCode (again) = %v, want storage.ErrNotFound", err)
		}
		if id, err := s.TakeOIDCCode(c, other, now); err != nil || id != "req-2" {
			t.Fatalf("TakeOIDCCode (other) = %q, %v; want req-2", id, err)
		}

		// Expired codes are refused (and stay refused).
		exp := UniqueName("code")
		if err := s.PutOIDCCode(c, exp, "req-4", now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCCode: %v", err)
		}
		if _, err := s.TakeOIDCCode(c, exp, now.Add(time.Minute)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("TakeOIDCCode (expired) = %v, want storage.ErrNotFound", err)
		}
		if _, err := s.TakeOIDCCode(c, exp, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("TakeOIDCCode (after an expired take) = %v, want storage.ErrNotFound", err)
		}

		// Codes and records are separate name spaces.
		if err := s.PutOIDCRecord(c, "code", code, []byte("x"), now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCRecord: %v", err)
		}
		if _, err := s.TakeOIDCCode(c, code, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("TakeOIDCCode saw a record: %v", err)
		}
	})

	t.Run("concurrent takes", func(t *testing.T) {
		s, c := setup(t)
		code := UniqueName("code")
		if err := s.PutOIDCCode(c, code, "req", now.Add(time.Minute)); err != nil {
			t.Fatalf("PutOIDCCode: %v", err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.TakeOIDCCode(c, code, now)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("TakeOIDCCode: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent takes succeeded, want 1", won)
		}
	})
}

package account

import (
	"context"
	"time"
)

// OIDCStore is the built-in OpenID Provider's shared state (package
// oidcop): opaque, expiring records (auth requests, access-token records)
// and single-use authorization codes, so that any replica can serve any step
// of a flow. Every adapter passes storetest.OIDCStore. Records belong to no
// account: Store.Delete leaves them to expire. Expired rows may be pruned at
// any time; callers never see them.
type OIDCStore interface {
	// PutOIDCRecord stores data under (kind, id), replacing any record there
	// (its data and expiry), until expiresAt.
	PutOIDCRecord(ctx context.Context, kind, id string, data []byte, expiresAt time.Time) error
	// GetOIDCRecord returns the record's data, or storage.ErrNotFound when
	// there is none or it expired (expiresAt is not after now).
	GetOIDCRecord(ctx context.Context, kind, id string, now time.Time) ([]byte, error)
	// DeleteOIDCRecord removes the record; deleting none succeeds.
	DeleteOIDCRecord(ctx context.Context, kind, id string) error
	// PutOIDCCode maps an authorization code (the caller may pass a hash of
	// it) to its auth request id until expiresAt, replacing any mapping of
	// that code.
	PutOIDCCode(ctx context.Context, code, requestID string, expiresAt time.Time) error
	// TakeOIDCCode atomically removes the code and returns its request id:
	// a code is taken once. storage.ErrNotFound when unknown, already taken
	// or expired (expiresAt is not after now). Of concurrent takes of one
	// code exactly one succeeds.
	TakeOIDCCode(ctx context.Context, code string, now time.Time) (requestID string, err error)
}

package oidcop

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
)

// keyring reads the account store's signing keys — the ones auth.Issuer
// signs with — in the same format (PKCS#8 ES256 PEM), so tokens of both
// verify against one JWKS. It creates a key the same way when none signs any
// more. (auth.Issuer keeps its keys private, so the loading is repeated here;
// the two could share a helper once this moves into internal/auth.)
type keyring struct {
	keys        account.Sessions
	ttl         time.Duration // longest token lifetime: keys stay published this long
	rotateEvery time.Duration
	now         func() time.Time

	mu       sync.Mutex
	signing  *signingKey
	public   []op.Key
	loadedAt time.Time
}

type signingKey struct {
	id      string
	key     *ecdsa.PrivateKey
	expires time.Time
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *ecdsa.PublicKey
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.key }

func (r *keyring) signingKey(ctx context.Context) (op.SigningKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refresh(ctx); err != nil {
		return nil, err
	}
	return r.signing, nil
}

func (r *keyring) keySet(ctx context.Context) ([]op.Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refresh(ctx); err != nil {
		return nil, err
	}
	return r.public, nil
}

// refresh reloads keys at most once a minute and creates one when none signs.
func (r *keyring) refresh(ctx context.Context) error {
	now := r.now().UTC()
	if r.signing != nil && now.Before(r.signing.expires) && now.Sub(r.loadedAt) < time.Minute {
		return nil
	}
	if err := r.load(ctx, now); err != nil {
		return err
	}
	if r.signing != nil && now.Before(r.signing.expires) {
		return nil
	}
	if err := r.create(ctx, now); err != nil {
		return err
	}
	if err := r.load(ctx, now); err != nil {
		return err
	}
	if r.signing == nil {
		return errors.New("oidcop: no signing key after rotation")
	}
	return nil
}

func (r *keyring) load(ctx context.Context, now time.Time) error {
	keys, err := r.keys.SigningKeys(ctx, now.Add(-r.ttl))
	if err != nil {
		return fmt.Errorf("oidcop: load signing keys: %w", err)
	}
	r.signing, r.public = nil, nil
	for _, k := range keys { // newest first
		if k.Algorithm != string(jose.ES256) {
			continue
		}
		priv, err := auth.ParseSigningKey(k.PrivateKeyPEM)
		if err != nil {
			return fmt.Errorf("oidcop: signing key %s: %w", k.ID, err)
		}
		r.public = append(r.public, &publicKey{id: k.ID, key: &priv.PublicKey})
		if r.signing == nil && now.Before(k.NotAfter) {
			r.signing = &signingKey{id: k.ID, key: priv, expires: k.NotAfter}
		}
	}
	r.loadedAt = now
	return nil
}

func (r *keyring) create(ctx context.Context, now time.Time) error {
	k, err := auth.NewSigningKey(now, r.rotateEvery)
	if err != nil {
		return err
	}
	return r.keys.PutSigningKey(ctx, k)
}

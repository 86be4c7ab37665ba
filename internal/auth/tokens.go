package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ejazz/ejazz/internal/account"
)

// Claims are the access token's claims.
type Claims struct {
	jwt.Claims
	Roles []string `json:"roles,omitempty"`
}

// Issuer signs short-lived access tokens (ES256 JWTs) with rotating keys kept
// in the account store: the newest key signs until it is RotateEvery old,
// then a new one is made; older keys stay in the JWKS until every token they
// signed has expired. Several replicas share keys through the store.
type Issuer struct {
	Keys        account.Sessions
	IssuerURL   string
	Audience    string
	AccessTTL   time.Duration
	RotateEvery time.Duration
	Now         func() time.Time

	mu       sync.Mutex
	signing  *loadedKey
	public   jose.JSONWebKeySet
	loadedAt time.Time
}

type loadedKey struct {
	id      string
	key     *ecdsa.PrivateKey
	signer  jose.Signer
	expires time.Time // NotAfter: stops signing
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now().UTC()
	}
	return time.Now().UTC()
}

// Issue returns a signed access token for the user and its lifetime.
func (i *Issuer) Issue(ctx context.Context, userID string, roles []string) (string, time.Duration, error) {
	k, err := i.current(ctx)
	if err != nil {
		return "", 0, err
	}
	now := i.now()
	claims := Claims{
		Claims: jwt.Claims{
			Issuer:    i.IssuerURL,
			Subject:   userID,
			Audience:  jwt.Audience{i.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(i.AccessTTL)),
			ID:        uuid.NewString(),
		},
		Roles: roles,
	}
	tok, err := jwt.Signed(k.signer).Claims(claims).Serialize()
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	return tok, i.AccessTTL, nil
}

// JWKS returns the public keys that verify tokens still alive.
func (i *Issuer) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	if _, err := i.current(ctx); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.public, nil
}

// current returns the signing key, loading keys (at most once a minute) and
// creating a new key when none signs any more.
func (i *Issuer) current(ctx context.Context) (*loadedKey, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.now()
	if i.signing != nil && now.Before(i.signing.expires) && now.Sub(i.loadedAt) < time.Minute {
		return i.signing, nil
	}
	if err := i.load(ctx, now); err != nil {
		return nil, err
	}
	if i.signing == nil || !now.Before(i.signing.expires) {
		if err := i.rotate(ctx, now); err != nil {
			return nil, err
		}
		if err := i.load(ctx, now); err != nil {
			return nil, err
		}
		if i.signing == nil {
			return nil, errors.New("no signing key after rotation")
		}
	}
	return i.signing, nil
}

func (i *Issuer) load(ctx context.Context, now time.Time) error {
	keys, err := i.Keys.SigningKeys(ctx, now.Add(-i.AccessTTL))
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	i.signing = nil
	i.public = jose.JSONWebKeySet{}
	for _, k := range keys { // newest first
		priv, err := ParseSigningKey(k.PrivateKeyPEM)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		i.public.Keys = append(i.public.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: k.ID, Algorithm: string(jose.ES256), Use: "sig"})
		if i.signing == nil && now.Before(k.NotAfter) {
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
				(&jose.SignerOptions{}).WithType("at+jwt"))
			if err != nil {
				return err
			}
			i.signing = &loadedKey{id: k.ID, key: priv, signer: signer, expires: k.NotAfter}
		}
	}
	i.loadedAt = now
	return nil
}

func (i *Issuer) rotate(ctx context.Context, now time.Time) error {
	k, err := NewSigningKey(now, i.RotateEvery)
	if err != nil {
		return err
	}
	return i.Keys.PutSigningKey(ctx, k)
}

// NewSigningKey makes a fresh ES256 signing key that signs from now until
// now+rotateEvery, in the account store's format (PKCS#8 PEM).
func NewSigningKey(now time.Time, rotateEvery time.Duration) (account.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return account.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return account.SigningKey{}, err
	}
	return account.SigningKey{
		ID:            uuid.NewString(),
		Algorithm:     string(jose.ES256),
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CreatedAt:     now,
		NotAfter:      now.Add(rotateEvery),
	}, nil
}

// ParseSigningKey decodes a stored ES256 signing key.
func ParseSigningKey(p string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return ec, nil
}

// ErrInvalidToken is every verification failure; the cause stays internal.
var ErrInvalidToken = errors.New("invalid or expired access token")

// Verifier checks access tokens locally against a JWKS (no per-request
// round trip): signature (ES256 or RS256 only — "none" and HMAC are
// refused), issuer, audience, expiry and not-before with a small leeway.
type Verifier struct {
	// JWKS returns the current key set (the built-in Issuer's, or a fetched
	// external one); called when a token names an unknown key.
	JWKS      func(ctx context.Context) (jose.JSONWebKeySet, error)
	IssuerURL string
	Audience  string
	Leeway    time.Duration
	Now       func() time.Time
	// CacheSize, when positive, keeps that many verified tokens (by their
	// SHA-256) for up to a minute, never past their expiry, so a gateway
	// checks a client's signature once rather than on every call (an ECDSA
	// verification costs more than proxying the call). A token whose key
	// was withdrawn from the key set keeps working for at most that minute.
	CacheSize int

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time

	cacheOnce sync.Once
	cache     *lru.Cache[[32]byte, verified]
}

// verified is a cached verification: the caller, and until when.
type verified struct {
	caller Caller
	until  time.Time
}

// verifiedFor is how long a verification is reused at most.
const verifiedFor = time.Minute

var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// Verify returns the caller of a valid token or ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, raw string) (Caller, error) {
	if v.CacheSize <= 0 {
		c, _, err := v.verify(ctx, raw)
		return c, err
	}
	v.cacheOnce.Do(func() { v.cache, _ = lru.New[[32]byte, verified](v.CacheSize) })
	now := v.now()
	sum := sha256.Sum256([]byte(raw))
	if hit, ok := v.cache.Get(sum); ok && now.Before(hit.until) {
		return hit.caller, nil
	}
	c, exp, err := v.verify(ctx, raw)
	if err == nil {
		until := now.Add(verifiedFor)
		if e := exp.Add(v.Leeway); e.Before(until) {
			until = e
		}
		v.cache.Add(sum, verified{caller: c, until: until})
	}
	return c, err
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// verify checks raw's signature and claims; exp is its expiry.
func (v *Verifier) verify(ctx context.Context, raw string) (Caller, time.Time, error) {
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return Caller{}, time.Time{}, ErrInvalidToken
	}
	key, err := v.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return Caller{}, time.Time{}, ErrInvalidToken
	}
	var c Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return Caller{}, time.Time{}, ErrInvalidToken
	}
	now := v.now()
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: v.IssuerURL, AnyAudience: jwt.Audience{v.Audience}, Time: now}, v.Leeway); err != nil {
		return Caller{}, time.Time{}, ErrInvalidToken
	}
	if c.Subject == "" || c.Expiry == nil {
		return Caller{}, time.Time{}, ErrInvalidToken
	}
	return Caller{UserID: c.Subject, Roles: c.Roles}, c.Expiry.Time(), nil
}

func (v *Verifier) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ks := v.keys.Key(kid); len(ks) == 1 && time.Since(v.fetched) < 10*time.Minute {
		return ks[0], nil
	}
	// Unknown kid (a rotation) or stale set: refetch, at most every few seconds.
	if time.Since(v.fetched) > 5*time.Second {
		set, err := v.JWKS(ctx)
		if err != nil {
			return jose.JSONWebKey{}, err
		}
		v.keys, v.fetched = set, time.Now()
	}
	if ks := v.keys.Key(kid); len(ks) == 1 {
		return ks[0], nil
	}
	return jose.JSONWebKey{}, ErrInvalidToken
}

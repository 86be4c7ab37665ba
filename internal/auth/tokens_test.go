package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/ejazz/ejazz/internal/account"
)

// memKeys is the signing-key part of account.Sessions, in memory.
type memKeys struct {
	account.Sessions
	mu   sync.Mutex
	keys []account.SigningKey
}

func (m *memKeys) PutSigningKey(_ context.Context, k account.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append([]account.SigningKey{k}, m.keys...)
	return nil
}

func (m *memKeys) SigningKeys(_ context.Context, since time.Time) ([]account.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []account.SigningKey
	for _, k := range m.keys {
		if k.NotAfter.After(since) {
			out = append(out, k)
		}
	}
	return out, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newPair(c *clock) (*Issuer, *Verifier, *memKeys) {
	keys := &memKeys{}
	iss := &Issuer{Keys: keys, IssuerURL: "http://ejazz.test", Audience: "ejazz", AccessTTL: 15 * time.Minute, RotateEvery: 24 * time.Hour, Now: c.now}
	ver := &Verifier{JWKS: iss.JWKS, IssuerURL: "http://ejazz.test", Audience: "ejazz", Leeway: 30 * time.Second, Now: c.now}
	return iss, ver, keys
}

func TestIssueAndVerify(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	iss, ver, _ := newPair(c)
	tok, ttl, err := iss.Issue(ctx, "user-1", []string{"analyst"})
	if err != nil || ttl != 15*time.Minute {
		t.Fatalf("Issue = %v, %v", ttl, err)
	}
	caller, err := ver.Verify(ctx, tok)
	if err != nil || caller.UserID != "user-1" || !caller.HasRole("analyst") {
		t.Fatalf("Verify = %+v, %v", caller, err)
	}
	c.t = c.t.Add(16 * time.Minute)
	if _, err := ver.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token verified: %v", err)
	}
}

func TestVerifyRejectsForgeries(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	iss, ver, _ := newPair(c)
	good, _, err := iss.Issue(ctx, "user-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding
	claims := func(aud, issuer string, exp time.Time) string {
		return b64.EncodeToString([]byte(`{"sub":"attacker","aud":["` + aud + `"],"iss":"` + issuer + `","exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`))
	}
	kid := ""
	if set, _ := iss.JWKS(ctx); len(set.Keys) == 1 {
		kid = set.Keys[0].KeyID
	}
	hs := func(header, payload string) string {
		mac := hmac.New(sha256.New, []byte("guess"))
		mac.Write([]byte(header + "." + payload))
		return header + "." + payload + "." + b64.EncodeToString(mac.Sum(nil))
	}
	// A token signed by a key not in the JWKS, with the right kid.
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: otherKey, KeyID: kid}}, nil)
	foreign, _ := jwt.Signed(otherSigner).Claims(jwt.Claims{Subject: "attacker", Issuer: "http://ejazz.test", Audience: jwt.Audience{"ejazz"}, Expiry: jwt.NewNumericDate(c.t.Add(time.Hour))}).Serialize()
	// Validly signed tokens with wrong claims.
	wrongAud := signWith(t, iss, jwt.Claims{Subject: "u", Issuer: "http://ejazz.test", Audience: jwt.Audience{"other-app"}, Expiry: jwt.NewNumericDate(c.t.Add(time.Hour))})
	wrongIss := signWith(t, iss, jwt.Claims{Subject: "u", Issuer: "http://evil.test", Audience: jwt.Audience{"ejazz"}, Expiry: jwt.NewNumericDate(c.t.Add(time.Hour))})
	noExp := signWith(t, iss, jwt.Claims{Subject: "u", Issuer: "http://ejazz.test", Audience: jwt.Audience{"ejazz"}})
	cases := map[string]string{
		"tampered payload":   parts[0] + "." + claims("ejazz", "http://ejazz.test", c.t.Add(time.Hour)) + "." + parts[2],
		"tampered signature": parts[0] + "." + parts[1] + "." + b64.EncodeToString([]byte("not a signature at all, 64 bytes long.........................")),
		"alg none":           b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + claims("ejazz", "http://ejazz.test", c.t.Add(time.Hour)) + ".",
		"alg HS256":          hs(b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+kid+`"}`)), claims("ejazz", "http://ejazz.test", c.t.Add(time.Hour))),
		"foreign key":        foreign,
		"wrong audience":     wrongAud,
		"wrong issuer":       wrongIss,
		"no expiry":          noExp,
		"garbage":            "a.b.c",
		"empty":              "",
	}
	for name, tok := range cases {
		if caller, err := ver.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify = %+v, %v; want ErrInvalidToken", name, caller, err)
		}
	}
}

func signWith(t *testing.T, iss *Issuer, claims jwt.Claims) string {
	t.Helper()
	k, err := iss.current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(k.signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestKeyRotationKeepsOldKeysUntilTheirTokensExpire(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	iss, ver, keys := newPair(c)
	old, _, err := iss.Issue(ctx, "u", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Just before the first key stops signing, a token signed with it.
	c.t = c.t.Add(24*time.Hour - time.Minute)
	late, _, _ := iss.Issue(ctx, "u", nil)
	// The next day a new key signs; the late token still verifies.
	c.t = c.t.Add(2 * time.Minute)
	fresh, _, err := iss.Issue(ctx, "u", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.keys) != 2 {
		t.Fatalf("%d keys after rotation, want 2", len(keys.keys))
	}
	if kidOf(t, fresh) == kidOf(t, late) {
		t.Fatal("no new key after RotateEvery")
	}
	for name, tok := range map[string]string{"late": late, "fresh": fresh} {
		if _, err := ver.Verify(ctx, tok); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	if _, err := ver.Verify(ctx, old); err == nil {
		t.Error("a day-old token verified")
	}
	// Once every token of the old key has expired, the JWKS drops it.
	c.t = c.t.Add(20 * time.Minute)
	iss.loadedAt = time.Time{}
	set, err := iss.JWKS(ctx)
	if err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != kidOf(t, fresh) {
		t.Fatalf("JWKS after expiry = %+v, %v", set.Keys, err)
	}
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

func TestMiddleware(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	iss, ver, _ := newPair(c)
	tok, _, _ := iss.Issue(ctx, "user-9", nil)
	h := Middleware(ver)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := CallerFrom(r.Context())
		if ok {
			_, _ = w.Write([]byte(caller.UserID))
			return
		}
		_, _ = w.Write([]byte("anonymous"))
	}))
	do := func(auth string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/ejazz.user.v1.UserService/GetProfile", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := do(""); code != 200 || body != "anonymous" {
		t.Errorf("no header: %d %q", code, body)
	}
	if code, body := do("Bearer " + tok); code != 200 || body != "user-9" {
		t.Errorf("valid token: %d %q", code, body)
	}
	for _, bad := range []string{"Bearer " + tok + "x", "Basic dXNlcjpwYXNz", "Bearer", tok} {
		if code, body := do(bad); code != http.StatusUnauthorized || !strings.Contains(body, "unauthenticated") {
			t.Errorf("Authorization %q: %d %q, want a Connect unauthenticated error", bad, code, body)
		}
	}
}

// BenchmarkVerify is the per-request cost of token verification (local JWKS, cached).
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	iss, ver, _ := newPair(c)
	tok, _, _ := iss.Issue(ctx, "user-1", nil)
	if _, err := ver.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ver.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyCache: a cached verification answers like a fresh one, never
// outlives the token, and never admits a token it did not verify.
func TestVerifyCache(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	iss, ver, _ := newPair(c)
	ver.CacheSize = 2
	tok, _, err := iss.Issue(ctx, "user-1", []string{"analyst"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		caller, err := ver.Verify(ctx, tok)
		if err != nil || caller.UserID != "user-1" || !caller.HasRole("analyst") {
			t.Fatalf("Verify %d = %+v, %v", i, caller, err)
		}
	}
	// A tampered copy is not the cached token.
	if _, err := ver.Verify(ctx, tok[:len(tok)-2]+"AA"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("tampered token = %v", err)
	}
	// Other tokens push it out of a full cache; it still verifies afresh.
	for _, u := range []string{"user-2", "user-3"} {
		other, _, _ := iss.Issue(ctx, u, nil)
		if got, err := ver.Verify(ctx, other); err != nil || got.UserID != u {
			t.Fatalf("Verify %s = %+v, %v", u, got, err)
		}
	}
	if got, err := ver.Verify(ctx, tok); err != nil || got.UserID != "user-1" {
		t.Fatalf("evicted token = %+v, %v", got, err)
	}
	// Past its expiry (and leeway) the cached entry is not used.
	c.t = c.t.Add(15*time.Minute + 31*time.Second)
	if _, err := ver.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token from the cache: %v", err)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	iss, ver, _ := newPair(c)
	ver.CacheSize = 1024
	tok, _, _ := iss.Issue(ctx, "user-1", nil)
	for b.Loop() {
		if _, err := ver.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

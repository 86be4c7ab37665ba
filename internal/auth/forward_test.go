package auth

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestIdentityHeader(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return now.Add(d) } }
	signer := &IdentitySigner{Keys: [][]byte{testKey(1)}, Now: at(0)}
	caller := Caller{UserID: "user-1", Roles: []string{"analyst"}}
	valid, err := signer.Sign(caller)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		t.Fatalf("header %q is not v1.<payload>.<mac>", valid)
	}
	tampered := func() string {
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		p = bytes.Replace(p, []byte("user-1"), []byte("user-2"), 1)
		return "v1." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
	}()
	forgedSig := func() string {
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[0] ^= 1
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}()
	otherKey, _ := (&IdentitySigner{Keys: [][]byte{testKey(2)}, Now: at(0)}).Sign(caller)
	rotated, _ := (&IdentitySigner{Keys: [][]byte{testKey(2), testKey(1)}, Now: at(0)}).Sign(caller)
	withAud, _ := (&IdentitySigner{Keys: [][]byte{testKey(1)}, Audience: "other", Now: at(0)}).Sign(caller)
	emptySub, _ := signer.Sign(Caller{})

	tests := []struct {
		name   string
		header string
		v      IdentityVerifier
		ok     bool
	}{
		{"valid", valid, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(10 * time.Second)}, true},
		{"valid within leeway", valid, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(64 * time.Second)}, true},
		{"expired", valid, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(66 * time.Second)}, false},
		{"issued in the future", valid, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(-time.Minute)}, false},
		{"forged signature", forgedSig, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(0)}, false},
		{"tampered payload", tampered, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(0)}, false},
		{"wrong key", otherKey, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(0)}, false},
		{"rotation: new key signs, old and new accepted", rotated, IdentityVerifier{Keys: [][]byte{testKey(1), testKey(2)}, Now: at(0)}, true},
		{"rotation: old key still accepted", valid, IdentityVerifier{Keys: [][]byte{testKey(2), testKey(1)}, Now: at(0)}, true},
		{"rotation: retired key refused", valid, IdentityVerifier{Keys: [][]byte{testKey(2)}, Now: at(0)}, false},
		{"other audience", withAud, IdentityVerifier{Keys: [][]byte{testKey(1)}, Audience: "ejazz", Now: at(0)}, false},
		{"audience matches", withAud, IdentityVerifier{Keys: [][]byte{testKey(1)}, Audience: "other", Now: at(0)}, true},
		{"no subject", emptySub, IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(0)}, false},
		{"wrong version", "v2" + valid[2:], IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(0)}, false},
		{"garbage", "v1.e30.", IdentityVerifier{Keys: [][]byte{testKey(1)}, Now: at(0)}, false},
		{"verifier without keys", valid, IdentityVerifier{Now: at(0)}, false},
		{"short key", valid, IdentityVerifier{Keys: [][]byte{testKey(1)[:31]}, Now: at(0)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.Verify(tc.header)
			if tc.ok {
				if err != nil || c.UserID != "user-1" || !c.HasRole("analyst") {
					t.Fatalf("Verify = %+v, %v; want user-1 with analyst", c, err)
				}
				return
			}
			if err != ErrInvalidIdentity {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidIdentity", c, err)
			}
		})
	}
	if _, err := (&IdentitySigner{Keys: [][]byte{[]byte("short")}}).Sign(caller); err == nil {
		t.Error("signing with a 5-byte key succeeded")
	}
}

func TestParseIdentityKeys(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	b64Key := base64.StdEncoding.EncodeToString(testKey(7))
	keys, err := ParseIdentityKeys(hexKey + ", " + b64Key)
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[1], testKey(7)) || keys[0][0] != 0xab {
		t.Fatalf("ParseIdentityKeys = %v, %v", keys, err)
	}
	for _, bad := range []string{"", "abcd", "not a key!"} {
		if _, err := ParseIdentityKeys(bad); err == nil {
			t.Errorf("ParseIdentityKeys(%q) succeeded", bad)
		}
	}
}

func TestMiddlewareIdentity(t *testing.T) {
	signer := &IdentitySigner{Keys: [][]byte{testKey(1)}}
	good, _ := signer.Sign(Caller{UserID: "user-5"})
	expired, _ := (&IdentitySigner{Keys: [][]byte{testKey(1)}, Now: func() time.Time { return time.Now().Add(-time.Hour) }}).Sign(Caller{UserID: "user-5"})
	forged, _ := (&IdentitySigner{Keys: [][]byte{testKey(9)}}).Sign(Caller{UserID: "admin"})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := CallerFrom(r.Context()); ok {
			_, _ = w.Write([]byte(c.UserID))
			return
		}
		_, _ = w.Write([]byte("anonymous"))
	})
	withKeys := NewMiddleware(MiddlewareOptions{Identity: &IdentityVerifier{Keys: [][]byte{testKey(1)}}})(echo)
	tokensOnly := Middleware(&Verifier{})(echo)
	do := func(h http.Handler, hdr map[string]string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/ejazz.user.v1.UserService/GetProfile", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		name     string
		h        http.Handler
		hdr      map[string]string
		wantCode int
		want     string
	}{
		{"valid identity", withKeys, map[string]string{IdentityHeader: good}, 200, "user-5"},
		{"no credentials", withKeys, nil, 200, "anonymous"},
		{"expired identity", withKeys, map[string]string{IdentityHeader: expired}, 401, "unauthenticated"},
		{"forged identity", withKeys, map[string]string{IdentityHeader: forged}, 401, "unauthenticated"},
		{"empty identity", withKeys, map[string]string{IdentityHeader: ""}, 401, "unauthenticated"},
		{"bearer without token verifier", withKeys, map[string]string{"Authorization": "Bearer x"}, 401, "through the gateway"},
		{"identity at a tokens-only service", tokensOnly, map[string]string{IdentityHeader: good}, 401, "not accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.h, tc.hdr)
			if code != tc.wantCode || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.wantCode, tc.want)
			}
		})
	}
}

package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// RemoteJWKS fetches an issuer's key set over HTTP (an external issuer, or
// the built-in one from a process without the account store).
func RemoteJWKS(url string) func(ctx context.Context) (jose.JSONWebKeySet, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context) (jose.JSONWebKeySet, error) {
		var set jose.JSONWebKeySet
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return set, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return set, fmt.Errorf("jwks %s: %w", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return set, fmt.Errorf("jwks %s: %s", url, resp.Status)
		}
		err = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set)
		return set, err
	}
}

// JWKSHandler serves the issuer's public keys at /.well-known/jwks.json.
func JWKSHandler(iss *Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := iss.JWKS(r.Context())
		if err != nil {
			http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(set)
	})
}

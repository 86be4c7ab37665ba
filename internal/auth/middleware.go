package auth

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// Middleware verifies the bearer token of every request that carries one and
// puts the caller in the request context (CallerFrom). Requests without an
// Authorization header pass through as anonymous — each RPC decides whether
// it needs a caller. A malformed or invalid token is `unauthenticated`,
// written in the request's own protocol (Connect, gRPC or gRPC-Web), so
// streaming RPCs are covered too.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			if h == "" {
				next.ServeHTTP(w, r)
				return
			}
			scheme, tok, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
				reject(ew, w, r, "the Authorization header must be \"Bearer <access token>\"")
				return
			}
			c, err := v.Verify(r.Context(), strings.TrimSpace(tok))
			if err != nil {
				reject(ew, w, r, ErrInvalidToken.Error())
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
		})
	}
}

func reject(ew *connect.ErrorWriter, w http.ResponseWriter, r *http.Request, msg string) {
	if ew.IsSupported(r) {
		_ = ew.Write(w, r, connect.NewError(connect.CodeUnauthenticated, errorString(msg)))
		return
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

type errorString string

func (e errorString) Error() string { return string(e) }

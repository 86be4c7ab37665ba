package auth

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// MiddlewareOptions says which credentials a service accepts.
type MiddlewareOptions struct {
	// Tokens verifies "Authorization: Bearer" access tokens (direct calls,
	// `ejazz dev`); nil refuses every Authorization header, so the service
	// trusts only identities signed by the gateway.
	Tokens *Verifier
	// Identity verifies IdentityHeader values signed by the gateway; nil
	// refuses every IdentityHeader (a header the service cannot verify is
	// never ignored).
	Identity *IdentityVerifier
}

// Middleware verifies the bearer token of every request that carries one and
// puts the caller in the request context (CallerFrom). Requests without an
// Authorization header pass through as anonymous — each RPC decides whether
// it needs a caller. A malformed or invalid token is `unauthenticated`,
// written in the request's own protocol (Connect, gRPC or gRPC-Web), so
// streaming RPCs are covered too. A request carrying IdentityHeader is
// `unauthenticated`: use NewMiddleware to accept the gateway's identities.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return NewMiddleware(MiddlewareOptions{Tokens: v})
}

// NewMiddleware puts the caller of every request in its context (CallerFrom).
// A request with IdentityHeader is the caller it names when o.Identity
// verifies it (the header decides; Authorization is then not read);
// otherwise a bearer token is verified by o.Tokens. A present but invalid,
// expired, forged or unaccepted credential is `unauthenticated` in the
// request's protocol — never silently anonymous. Requests with neither
// header pass through as anonymous.
func NewMiddleware(o MiddlewareOptions) func(http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := r.Header.Values(IdentityHeader); len(id) > 0 {
				if o.Identity == nil {
					reject(ew, w, r, "the "+IdentityHeader+" header is not accepted by this service")
					return
				}
				if len(id) != 1 {
					reject(ew, w, r, ErrInvalidIdentity.Error())
					return
				}
				c, err := o.Identity.Verify(id[0])
				if err != nil {
					reject(ew, w, r, ErrInvalidIdentity.Error())
					return
				}
				next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
				return
			}
			h := r.Header.Get("Authorization")
			if h == "" {
				next.ServeHTTP(w, r)
				return
			}
			if o.Tokens == nil {
				reject(ew, w, r, "bearer tokens are not accepted here; call through the gateway")
				return
			}
			c, err := BearerCaller(r, o.Tokens)
			if err != nil {
				reject(ew, w, r, err.Error())
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
		})
	}
}

// BearerCaller verifies the request's "Authorization: Bearer" token with v.
// The error is safe to show a client.
func BearerCaller(r *http.Request, v *Verifier) (Caller, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return Caller{}, errorString("the Authorization header must be \"Bearer <access token>\"")
	}
	c, err := v.Verify(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return Caller{}, ErrInvalidToken
	}
	return c, nil
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

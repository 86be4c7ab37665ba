package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"connectrpc.com/connect"
)

// Middleware limits Connect, gRPC and gRPC-Web calls with l: the procedure is
// the request path, the user is caller(r) ("" for anonymous; run it inside
// the auth middleware so the caller is known) and the address is clientIP(r)
// (RemoteIP when nil). A refused call gets `resource_exhausted` in the
// request's own protocol (HTTP 429 for Connect), a Retry-After header in
// whole seconds (rounded up) and a message safe to show the client. Other
// requests (health, metrics, CORS preflight, blob uploads, pages) pass
// through unlimited.
func Middleware(l *Limiter, caller func(*http.Request) string, clientIP func(*http.Request) string) func(http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	if clientIP == nil {
		clientIP = RemoteIP
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isRPC(ew, r) {
				next.ServeHTTP(w, r)
				return
			}
			var user string
			if caller != nil {
				user = caller(r)
			}
			// A store failure is already counted and logged; the call is allowed.
			d, _ := l.Check(r.Context(), r.URL.Path, user, clientIP(r))
			if d.Allowed {
				next.ServeHTTP(w, r)
				return
			}
			secs := max(int(math.Ceil(d.RetryAfter.Seconds())), 1)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			msg := fmt.Sprintf("rate limit exceeded: retry in %d s", secs)
			_ = ew.Write(w, r, connect.NewError(connect.CodeResourceExhausted, errors.New(msg)))
		})
	}
}

// isRPC reports whether r is a Connect, gRPC or gRPC-Web call: a protocol
// the error writer recognizes (it takes any GET for a Connect one, so a GET
// must carry Connect's message parameter) on a "/package.Service/Method" path.
func isRPC(ew *connect.ErrorWriter, r *http.Request) bool {
	if !ew.IsSupported(r) || r.Method == http.MethodGet && !r.URL.Query().Has("message") {
		return false
	}
	service, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return ok && strings.Contains(service, ".") && method != "" && !strings.Contains(method, "/")
}

// RemoteIP returns the address of the request's peer (RemoteAddr without its
// port). It is the client's address unless a proxy stands in front; then use
// ClientIP with the proxies' addresses.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ClientIP returns a clientIP function for Middleware that trusts
// X-Forwarded-For only from the given proxies: when the peer is one of them,
// the client is the rightmost X-Forwarded-For address that is not a trusted
// proxy (a client can prepend anything to the header, but not what the
// trusted proxies append). With no trusted proxies it is RemoteIP.
func ClientIP(trusted []netip.Prefix) func(*http.Request) string {
	if len(trusted) == 0 {
		return RemoteIP
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		remote := RemoteIP(r)
		peer, err := netip.ParseAddr(remote)
		if err != nil || !isTrusted(peer) {
			return remote
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := parseHop(hops[i])
			if err != nil {
				break // junk: keep the last address a trusted hop vouched for
			}
			client = a
			if !isTrusted(a) {
				break
			}
		}
		return client.Unmap().String()
	}
}

func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), nil
	}
	return netip.ParseAddr(strings.Trim(s, "[]"))
}

// ParseTrustedProxies parses proxy addresses or CIDR prefixes
// ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32") for ClientIP.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("ratelimit trusted proxy %q: want an address or a CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

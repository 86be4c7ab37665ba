package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/internal/ratelimit"
)

// limitedServer serves the AuthService (every RPC unimplemented) behind the
// middleware, over TLS with HTTP/2 so gRPC works too. The X-Test-User header
// names the caller.
func limitedServer(t *testing.T, p *ratelimit.Policy) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(authv1connect.NewAuthServiceHandler(authv1connect.UnimplementedAuthServiceHandler{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	caller := func(r *http.Request) string { return r.Header.Get("X-Test-User") }
	srv := httptest.NewUnstartedServer(ratelimit.Middleware(newLimiter(t, p), caller, nil)(mux))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestMiddlewareRefusesInEveryProtocol(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect", nil},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Two anonymous calls per IP, then one token every 90s.
			srv := limitedServer(t, &ratelimit.Policy{Anonymous: ratelimit.Rule{Rate: 1.0 / 90, Burst: 2}})
			client := authv1connect.NewAuthServiceClient(srv.Client(), srv.URL, tc.opts...)
			signIn := func() error {
				_, err := client.SignIn(context.Background(), connect.NewRequest(&authv1.SignInRequest{Identifier: "ana", Password: "pw"}))
				return err
			}
			for i := range 2 {
				if err := signIn(); connect.CodeOf(err) != connect.CodeUnimplemented {
					t.Fatalf("call %d = %v, want the handler's unimplemented (passed through)", i+1, err)
				}
			}
			err := signIn()
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodeResourceExhausted {
				t.Fatalf("call 3 = %v, want resource_exhausted", err)
			}
			if got := cerr.Meta().Get("Retry-After"); got != "90" {
				t.Errorf("Retry-After = %q, want \"90\" (seconds, rounded up)", got)
			}
			if !strings.Contains(cerr.Message(), "rate limit exceeded") || !strings.Contains(cerr.Message(), "90") {
				t.Errorf("message = %q, want a client-safe rate-limit message with the delay", cerr.Message())
			}
		})
	}
}

func TestMiddlewareHTTP(t *testing.T) {
	srv := limitedServer(t, &ratelimit.Policy{Anonymous: ratelimit.Rule{Rate: 0.001, Burst: 1}, User: ratelimit.Rule{Rate: 0.001, Burst: 1}})
	post := func(user string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+authv1connect.AuthServiceSignInProcedure, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.Header.Set("X-Test-User", user)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	for i, step := range []struct {
		user       string
		wantStatus int
	}{
		{"", http.StatusNotImplemented},
		{"", http.StatusTooManyRequests},
		{"ana", http.StatusNotImplemented}, // the caller function is consulted: ana has her own bucket
		{"ana", http.StatusTooManyRequests},
		{"bob", http.StatusNotImplemented},
	} {
		resp := post(step.user)
		if resp.StatusCode != step.wantStatus {
			t.Fatalf("step %d (user %q): status %d, want %d", i, step.user, resp.StatusCode, step.wantStatus)
		}
		if step.wantStatus == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1000" {
			t.Errorf("step %d: Retry-After = %q, want \"1000\"", i, resp.Header.Get("Retry-After"))
		}
	}
	// A Connect GET is an RPC too.
	resp, err := srv.Client().Get(srv.URL + authv1connect.AuthServiceSignInProcedure + "?encoding=json&message=%7B%7D")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("Connect GET after the limit: status %d, want 429", resp.StatusCode)
	}
	// Requests that are not RPCs are not limited.
	for range 3 {
		resp, err := srv.Client().Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz after the limit: status %d, want 200", resp.StatusCode)
		}
		resp, err = srv.Client().Post(srv.URL+"/dev/mail", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("JSON POST to a non-RPC path after the limit: status %d, want the mux's 404", resp.StatusCode)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ratelimit.ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: RemoteAddr", nil, "198.51.100.4:5555", []string{"203.0.113.9"}, "198.51.100.4"},
		{"no proxies: IPv6 RemoteAddr", nil, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"untrusted peer: header ignored", trusted, "198.51.100.4:5555", []string{"203.0.113.9"}, "198.51.100.4"},
		{"trusted peer: the forwarded client", trusted, "10.1.2.3:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed left entries are skipped", trusted, "10.1.2.3:5555", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"chains of trusted proxies", trusted, "10.1.2.3:5555", []string{"203.0.113.9, 192.0.2.7", "10.9.9.9"}, "203.0.113.9"},
		{"all trusted: the leftmost", trusted, "10.1.2.3:5555", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"junk stops at the last trusted hop", trusted, "10.1.2.3:5555", []string{"203.0.113.9, nonsense"}, "10.1.2.3"},
		{"no header: the proxy", trusted, "10.1.2.3:5555", nil, "10.1.2.3"},
		{"ports and brackets", trusted, "[2001:db8::5]:443", []string{"[2001:db9::1]:1234"}, "2001:db9::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/x", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ratelimit.ClientIP(tc.trusted)(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ratelimit.ParseTrustedProxies([]string{"10.0.0.0/8", "proxy.internal"}); err == nil {
		t.Error("ParseTrustedProxies accepted a host name")
	}
}

package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/emptypb"

	notificationv1 "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/internal/auth"
)

const postService = postv1connect.PostServiceName

// TestFailover is the acceptance test: two instances share the traffic;
// one is killed while calls keep coming and every call succeeds; the dead
// one is ejected, and re-admitted once it is back on the same address.
func TestFailover(t *testing.T) {
	a, b := startBackend(t, "a", "127.0.0.1:0"), startBackend(t, "b", "127.0.0.1:0")
	reg := prometheus.NewRegistry()
	g, url := startGateway(t, Options{
		Routes:         []Route{{Service: postService, Backend: Backend{Resolver: Static{a.url(), b.url()}}}},
		HealthInterval: 50 * time.Millisecond, EjectAfter: 1, Registerer: reg,
	})
	client := postv1connect.NewPostServiceClient(h1Client(), url)
	ctx := context.Background()
	var served counter
	get := func() error {
		res, err := client.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: "p1"}))
		if err == nil {
			served.add(res.Msg.Post.Text)
		}
		return err
	}
	for range 20 {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if served.get("a") < 5 || served.get("b") < 5 {
		t.Fatalf("20 calls spread a=%d b=%d, want both to serve", served.get("a"), served.get("b"))
	}

	// 4 clients call continuously; b dies after 100 calls; 300 more follow.
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	killed := make(chan struct{})
	var once sync.Once
	for range 4 {
		wg.Go(func() {
			for calls.Load() < 400 {
				if err := get(); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				if calls.Add(1) == 100 {
					once.Do(func() { b.kill(); close(killed) })
				}
			}
		})
	}
	wg.Wait()
	<-killed
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d calls failed while an instance died; first: %v", n, calls.Load(), firstErr.Load())
	}
	waitFor(t, "b ejected", func() bool {
		v, ok := gauge(t, reg, "ejazz_gateway_backend_healthy", map[string]string{"instance": b.url()})
		return ok && v == 0
	})
	if v, _ := gauge(t, reg, "ejazz_gateway_backend_healthy", map[string]string{"instance": a.url()}); v != 1 {
		t.Fatalf("a's health gauge = %v, want 1", v)
	}
	before := served.get("b")
	for range 20 {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if served.get("b") != before {
		t.Fatal("the killed instance still got calls")
	}

	// b comes back on the same address: re-admitted by a health check.
	startBackend(t, "b", b.addr)
	waitFor(t, "b re-admitted and serving", func() bool {
		_ = get()
		return served.get("b") > before
	})
	if err := g.Ready(); err != nil {
		t.Fatal(err)
	}

	// A non-idempotent call is retried only when it cannot have reached
	// an instance (a dial error, an HTTP/2 GOAWAY): draining a loses none.
	// (Over HTTP/1.1 the close of an idle keep-alive connection races with
	// its reuse, so this needs BackendH2C; see Options.)
	_, url = startGateway(t, Options{
		Routes:         []Route{{Service: postService, Backend: Backend{Resolver: Static{a.url(), b.url()}}}},
		HealthInterval: 50 * time.Millisecond, EjectAfter: 1, BackendH2C: true,
	})
	client = postv1connect.NewPostServiceClient(h1Client(), url)
	var creates, createFailures atomic.Int64
	drained := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for creates.Load() < 300 {
				if _, err := client.CreatePost(ctx, connect.NewRequest(&postv1.CreatePostRequest{Text: "hi"})); err != nil {
					createFailures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				if creates.Add(1) == 100 {
					go func() { a.drain(); close(drained) }()
				}
			}
		})
	}
	wg.Wait()
	<-drained
	if n := createFailures.Load(); n != 0 {
		t.Fatalf("%d of %d CreatePost calls failed while an instance drained; first: %v", n, creates.Load(), firstErr.Load())
	}
}

// TestProtocols runs unary and server-streaming calls over gRPC, gRPC-Web
// and Connect through the gateway; each backend sees the caller from the
// signed identity (backends accept no bearer token).
func TestProtocols(t *testing.T) {
	a, b := startBackend(t, "a", "127.0.0.1:0"), startBackend(t, "b", "127.0.0.1:0")
	tk := newTokens(t)
	_, url := startGateway(t, Options{
		Routes: []Route{
			{Service: postService, Backend: Backend{Resolver: Static{a.url(), b.url()}}},
			{Service: notificationv1connect.NotificationServiceName, Backend: Backend{Resolver: Static{a.url(), b.url()}}},
		},
		Tokens: tk.ver, Signer: signer(),
	})
	tok := tk.issue(t, "user-7", "analyst")
	protocols := []struct {
		name string
		http *http.Client
		opts []connect.ClientOption
	}{
		{"connect", h1Client(), nil},
		{"connect-h2c", h2cClient(), nil},
		{"grpc", h2cClient(), []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", h1Client(), []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			opts := append([]connect.ClientOption{bearer(tok)}, p.opts...)
			posts := postv1connect.NewPostServiceClient(p.http, url, opts...)
			seen := map[string]bool{}
			for range 4 {
				res, err := posts.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: "p9"}))
				if err != nil {
					t.Fatal(err)
				}
				if res.Msg.Post.AuthorId != "user-7" || len(res.Msg.Post.Hashtags) != 1 || res.Msg.Post.Hashtags[0] != "analyst" {
					t.Fatalf("backend saw caller %q roles %v, want user-7 [analyst]", res.Msg.Post.AuthorId, res.Msg.Post.Hashtags)
				}
				seen[res.Msg.Post.Text] = true
			}
			if len(seen) != 2 {
				t.Errorf("4 calls served by %v, want both instances", seen)
			}
			anon, err := posts.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: "p9"}))
			if err != nil || anon.Msg.Post.AuthorId != "user-7" {
				t.Fatalf("second client call: %v", err)
			}
			notes := notificationv1connect.NewNotificationServiceClient(p.http, url, opts...)
			stream, err := notes.StreamNotifications(ctx, connect.NewRequest(&notificationv1.StreamNotificationsRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			var got []int32
			for stream.Receive() {
				if s := stream.Msg().Notification.Summary; s != "user-7" {
					t.Fatalf("stream backend saw caller %q", s)
				}
				got = append(got, stream.Msg().UnreadCount)
			}
			if err := stream.Err(); err != nil || len(got) != 3 || got[2] != 3 {
				t.Fatalf("stream: %v, %v; want 3 messages", got, err)
			}
			_ = stream.Close()
		})
	}
}

// TestIdentity checks what the gateway does with credentials.
func TestIdentity(t *testing.T) {
	a := startBackend(t, "a", "127.0.0.1:0")
	tk := newTokens(t)
	_, url := startGateway(t, Options{
		Routes: []Route{{Service: postService, Backend: Backend{Resolver: Static{a.url()}}}},
		Tokens: tk.ver, Signer: signer(),
	})
	forged, _ := (&auth.IdentitySigner{Keys: [][]byte{[]byte(strings.Repeat("x", 32))}}).Sign(auth.Caller{UserID: "admin", Roles: []string{"admin"}})
	genuine, _ := signer().Sign(auth.Caller{UserID: "admin"})
	header := withHeader
	tests := []struct {
		name     string
		base     string
		opt      connect.ClientOption
		wantCode connect.Code // 0: success
		wantUser string
		wantMsg  string
	}{
		{"valid token", url, bearer(tk.issue(t, "user-1")), 0, "user-1", ""},
		{"anonymous", url, header("X-Nothing", "1"), 0, "", ""},
		{"invalid token", url, bearer("not-a-jwt"), connect.CodeUnauthenticated, "", "invalid or expired"},
		{"identity header from a client (forged)", url, header(auth.IdentityHeader, forged), connect.CodeUnauthenticated, "", "identity header not accepted from clients"},
		{"identity header from a client (even genuine)", url, header(auth.IdentityHeader, genuine), connect.CodeUnauthenticated, "", "identity header not accepted from clients"},
		{"forged identity straight to a backend", a.url(), header(auth.IdentityHeader, forged), connect.CodeUnauthenticated, "", "invalid or expired"},
		{"bearer straight to an identity-only backend", a.url(), bearer(tk.issue(t, "user-1")), connect.CodeUnauthenticated, "", "through the gateway"},
		{"genuine identity straight to a backend", a.url(), header(auth.IdentityHeader, genuine), 0, "admin", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, grpc := range []bool{false, true} {
				opts := []connect.ClientOption{tc.opt}
				hc := h1Client()
				if grpc {
					opts, hc = append(opts, connect.WithGRPC()), h2cClient()
				}
				res, err := postv1connect.NewPostServiceClient(hc, tc.base, opts...).GetPost(context.Background(), connect.NewRequest(&postv1.GetPostRequest{PostId: "p"}))
				if tc.wantCode == 0 {
					if err != nil || res.Msg.Post.AuthorId != tc.wantUser {
						t.Fatalf("grpc=%v: %v, %v; want caller %q", grpc, res, err, tc.wantUser)
					}
					continue
				}
				if codeOf(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("grpc=%v: error %v, want %v containing %q", grpc, err, tc.wantCode, tc.wantMsg)
				}
			}
		})
	}
}

// TestLimitsAndErrors: unknown routes, body size, malformed bodies,
// timeouts, CORS, and an in-process backend.
func TestLimitsAndErrors(t *testing.T) {
	a := startBackend(t, "a", "127.0.0.1:0")
	_, url := startGateway(t, Options{
		Routes: []Route{
			{Service: postService, Backend: Backend{Resolver: Static{a.url()}}, Timeout: 200 * time.Millisecond},
			{Service: notificationv1connect.NotificationServiceName, Backend: Backend{Handler: func() http.Handler {
				_, h := notificationv1connect.NewNotificationServiceHandler(fakeNotifications{})
				return h
			}()}},
		},
		MaxBodyBytes: 1024, CORSOrigins: []string{"http://app.example"},
	})
	ctx := context.Background()
	posts := postv1connect.NewPostServiceClient(h1Client(), url)
	grpcPosts := postv1connect.NewPostServiceClient(h2cClient(), url, connect.WithGRPC())

	t.Run("unknown service", func(t *testing.T) {
		for _, grpc := range []bool{false, true} {
			hc, opt := h1Client(), connect.WithProtoJSON()
			if grpc {
				hc, opt = h2cClient(), connect.WithGRPC()
			}
			c := connect.NewClient[emptypb.Empty, emptypb.Empty](hc, url+"/ejazz.chat.v1.ChatService/Send", opt)
			if _, err := c.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{})); codeOf(err) != connect.CodeUnimplemented {
				t.Fatalf("unknown service: %v, want unimplemented", err)
			}
		}
		resp, err := http.Get(url + "/nothing/here")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("non-RPC path: %d, want 404", resp.StatusCode)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		big := &postv1.CreatePostRequest{Text: strings.Repeat("x", 2000)}
		for _, c := range []postv1connect.PostServiceClient{posts, grpcPosts} {
			if _, err := c.CreatePost(ctx, connect.NewRequest(big)); codeOf(err) != connect.CodeResourceExhausted {
				t.Fatalf("oversized: %v, want resource_exhausted", err)
			}
		}
		resp, err := http.Post(url+postv1connect.PostServiceCreatePostProcedure, "text/plain", strings.NewReader(strings.Repeat("x", 2000)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized plain HTTP: %d, want 413", resp.StatusCode)
		}
	})
	t.Run("malformed bodies", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		// Connect unary, garbage protobuf.
		req, _ := http.NewRequestWithContext(cctx, http.MethodPost, url+postv1connect.PostServiceGetPostProcedure, strings.NewReader("\xff\xff\xff"))
		req.Header.Set("Content-Type", "application/proto")
		resp, err := h1Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_argument") {
			t.Fatalf("malformed Connect body: %d %s, want 400 invalid_argument", resp.StatusCode, body)
		}
		// gRPC, a frame promising 100 bytes and carrying 3.
		req, _ = http.NewRequestWithContext(cctx, http.MethodPost, url+postv1connect.PostServiceGetPostProcedure, strings.NewReader("\x00\x00\x00\x00\x64abc"))
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		resp, err = h2cClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		st := resp.Trailer.Get("Grpc-Status")
		if st == "" {
			st = resp.Header.Get("Grpc-Status")
		}
		msg := resp.Trailer.Get("Grpc-Message") + resp.Header.Get("Grpc-Message")
		// The backend's own answer (connect-go reports a truncated frame as
		// internal "protocol error"), relayed in time, not the gateway's.
		if st == "" || st == "0" || st == "14" || !strings.Contains(msg, "protocol error") {
			t.Fatalf("malformed gRPC frame: grpc-status %q (%s), want the backend's protocol error", st, msg)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		for _, c := range []postv1connect.PostServiceClient{posts, grpcPosts} {
			start := time.Now()
			_, err := c.GetPost(ctx, connect.NewRequest(&postv1.GetPostRequest{PostId: "slow"}))
			if codeOf(err) != connect.CodeDeadlineExceeded || time.Since(start) > 5*time.Second {
				t.Fatalf("slow call: %v after %v, want deadline_exceeded after the 200ms route timeout", err, time.Since(start))
			}
		}
	})
	t.Run("in-process backend", func(t *testing.T) {
		notes := notificationv1connect.NewNotificationServiceClient(h2cClient(), url, connect.WithGRPC())
		stream, err := notes.StreamNotifications(ctx, connect.NewRequest(&notificationv1.StreamNotificationsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for stream.Receive() {
			n++
		}
		if stream.Err() != nil || n != 3 {
			t.Fatalf("in-process stream: %d messages, %v", n, stream.Err())
		}
	})
	t.Run("cors preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, url+postv1connect.PostServiceGetPostProcedure, nil)
		req.Header.Set("Origin", "http://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" ||
			!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("preflight headers: %v", resp.Header)
		}
	})
}

// TestDNSResolver: instances come and go with the name's addresses.
func TestDNSResolver(t *testing.T) {
	a := startBackend(t, "a", "127.0.0.1:0")
	_, port, _ := strings.Cut(a.addr, ":")
	startBackend(t, "b", "127.0.0.2:"+port)
	var addrs atomic.Value
	addrs.Store([]string{"127.0.0.1", "127.0.0.2"})
	d, err := ParseDNS("dns:///ejazz-post:" + port)
	if err != nil {
		t.Fatal(err)
	}
	d.Lookup = func(_ context.Context, host string) ([]string, error) {
		if host != "ejazz-post" {
			return nil, errors.New("unknown host " + host)
		}
		return addrs.Load().([]string), nil
	}
	_, url := startGateway(t, Options{
		Routes:         []Route{{Service: postService, Backend: Backend{Resolver: d}}},
		HealthInterval: 20 * time.Millisecond, ResolveInterval: 20 * time.Millisecond,
	})
	client := postv1connect.NewPostServiceClient(h1Client(), url)
	var served counter
	get := func() {
		res, err := client.GetPost(context.Background(), connect.NewRequest(&postv1.GetPostRequest{PostId: "p"}))
		if err != nil {
			t.Fatal(err)
		}
		served.add(res.Msg.Post.Text)
	}
	for range 10 {
		get()
	}
	if served.get("a") == 0 || served.get("b") == 0 {
		t.Fatalf("calls spread a=%d b=%d, want both", served.get("a"), served.get("b"))
	}
	addrs.Store([]string{"127.0.0.1"})
	waitFor(t, "127.0.0.2 dropped", func() bool {
		before := served.get("b")
		for range 4 {
			get()
		}
		return served.get("b") == before
	})
}

func TestParseBackend(t *testing.T) {
	tests := []struct {
		in      string
		wantDNS bool
		wantN   int
		wantErr bool
	}{
		{"dns:///ejazz-post:8080", true, 0, false},
		{"dns:ejazz-post:8080", true, 0, false},
		{"http://10.0.0.1:8080, http://10.0.0.2:8080/", false, 2, false},
		{"dns:///ejazz-post", false, 0, true},
		{"https://a:1", false, 0, true},
		{"10.0.0.1:8080", false, 0, true},
		{"", false, 0, true},
	}
	for _, tc := range tests {
		b, err := ParseBackend(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseBackend(%q) succeeded", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseBackend(%q): %v", tc.in, err)
			continue
		}
		if d, ok := b.Resolver.(*DNS); ok != tc.wantDNS || (ok && (d.Host != "ejazz-post" || d.Port != "8080")) {
			t.Errorf("ParseBackend(%q) = %#v", tc.in, b.Resolver)
		}
		if s, ok := b.Resolver.(Static); ok && len(s) != tc.wantN {
			t.Errorf("ParseBackend(%q) = %v", tc.in, s)
		}
	}
}

func TestProcedures(t *testing.T) {
	p := procedures(postService)
	if !p[postv1connect.PostServiceGetPostProcedure].idempotent || p[postv1connect.PostServiceCreatePostProcedure].idempotent {
		t.Fatalf("post procedures: %+v", p)
	}
	n := procedures(notificationv1connect.NotificationServiceName)[notificationv1connect.NotificationServiceStreamNotificationsProcedure]
	if !n.serverStream || n.clientStream {
		t.Fatalf("StreamNotifications: %+v", n)
	}
}

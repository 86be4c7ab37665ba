package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	notificationv1 "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/edge"
)

var quiet = slog.New(slog.DiscardHandler)

// identityKey is shared by the test gateway and backends.
var identityKey = bytes.Repeat([]byte{42}, 32)

// fakePost answers GetPost and CreatePost with the serving instance's name
// (Text) and the caller it saw (AuthorId, roles in Hashtags).
type fakePost struct {
	postv1connect.UnimplementedPostServiceHandler
	name string
}

func (f *fakePost) post(ctx context.Context, id string) *postv1.Post {
	c, _ := auth.CallerFrom(ctx)
	return &postv1.Post{PostId: id, AuthorId: c.UserID, Text: f.name, Hashtags: c.Roles}
}

func (f *fakePost) GetPost(ctx context.Context, req *connect.Request[postv1.GetPostRequest]) (*connect.Response[postv1.GetPostResponse], error) {
	if req.Msg.PostId == "slow" {
		select {
		case <-ctx.Done():
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		case <-time.After(10 * time.Second):
		}
	}
	return connect.NewResponse(&postv1.GetPostResponse{Post: f.post(ctx, req.Msg.PostId)}), nil
}

func (f *fakePost) CreatePost(ctx context.Context, req *connect.Request[postv1.CreatePostRequest]) (*connect.Response[postv1.CreatePostResponse], error) {
	return connect.NewResponse(&postv1.CreatePostResponse{Post: f.post(ctx, "new")}), nil
}

// fakeNotifications streams three notifications naming the caller.
type fakeNotifications struct {
	notificationv1connect.UnimplementedNotificationServiceHandler
}

func (fakeNotifications) StreamNotifications(ctx context.Context, _ *connect.Request[notificationv1.StreamNotificationsRequest], s *connect.ServerStream[notificationv1.StreamNotificationsResponse]) error {
	c, _ := auth.CallerFrom(ctx)
	for i := range 3 {
		if err := s.Send(&notificationv1.StreamNotificationsResponse{
			Notification: &notificationv1.Notification{Summary: c.UserID}, UnreadCount: int32(i + 1),
		}); err != nil {
			return err
		}
	}
	return nil
}

// backend is one instance of the post and notification services on the
// real edge (grpc.health.v1 included), trusting only signed identities.
type backend struct {
	name, addr string
	srv        *edge.Server
	stop       sync.Once
}

func startBackend(t testing.TB, name, addr string) *backend {
	t.Helper()
	h := edge.New(edge.Options{
		Services:   edge.Services(edge.Handlers{Post: &fakePost{name: name}, Notification: fakeNotifications{}}),
		Middleware: auth.NewMiddleware(auth.MiddlewareOptions{Identity: &auth.IdentityVerifier{Keys: [][]byte{identityKey}}}),
		Logger:     quiet,
	})
	var srv *edge.Server
	var err error
	// A restarted instance binds the address it had; the kernel may need a moment.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if srv, err = edge.Listen(addr, h); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	b := &backend{name: name, addr: srv.Addr(), srv: srv}
	t.Cleanup(func() { b.kill() })
	return b
}

func (b *backend) url() string { return "http://" + b.addr }

// kill stops the instance at once: in-flight calls lose their connections.
func (b *backend) kill() {
	b.stop.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = b.srv.Shutdown(ctx)
	})
}

// drain stops the instance gracefully: no new connections, in-flight calls finish.
func (b *backend) drain() {
	b.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.srv.Shutdown(ctx)
	})
}

// tokens issues access tokens the returned verifier accepts.
type tokens struct {
	signer jose.Signer
	ver    *auth.Verifier
}

func newTokens(t testing.TB) *tokens {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	return &tokens{signer: signer, ver: &auth.Verifier{
		JWKS:      func(context.Context) (jose.JSONWebKeySet, error) { return set, nil },
		IssuerURL: "http://ejazz.test", Audience: "ejazz", Leeway: 30 * time.Second,
	}}
}

func (tk *tokens) issue(t testing.TB, user string, roles ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.Signed(tk.signer).Claims(auth.Claims{Claims: jwt.Claims{
		Issuer: "http://ejazz.test", Subject: user, Audience: jwt.Audience{"ejazz"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}, Roles: roles}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// startGateway serves a gateway over HTTP/1.1 and h2c.
func startGateway(t testing.TB, o Options) (*Gateway, string) {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := edge.Listen("127.0.0.1:0", g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = g.Close()
	})
	return g, "http://" + srv.Addr()
}

func signer() *auth.IdentitySigner { return &auth.IdentitySigner{Keys: [][]byte{identityKey}} }

// h1Client speaks HTTP/1.1 (Connect, gRPC-Web); h2cClient speaks h2c (gRPC).
func h1Client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// bearer adds an Authorization header to every call.
func bearer(tok string) connect.ClientOption { return withHeader("Authorization", "Bearer "+tok) }

// withHeader sets a request header on every call, unary or streaming.
func withHeader(k, v string) connect.ClientOption {
	return connect.WithInterceptors(headerInterceptor{k, v})
}

type headerInterceptor struct{ k, v string }

func (h headerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set(h.k, h.v)
		return next(ctx, req)
	}
}

func (h headerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set(h.k, h.v)
		return conn
	}
}

func (h headerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// counter counts calls per serving instance.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gauge reads one gauge series from reg.
func gauge(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func codeOf(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeOf(err)
}

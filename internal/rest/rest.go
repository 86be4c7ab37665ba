// Package rest serves the Ejazz APIs as REST/JSON next to Connect, gRPC and gRPC-Web on one port, and publishes
// the OpenAPI document of that REST mapping.
//
// The REST mapping is the google.api.http annotation of each RPC in apis/ejazz/*/v1 (e.g. GET /v1/posts/{post_id}
// is PostService.GetPost). Handler is a connectrpc.com/vanguard transcoder: a REST request is decoded, turned into
// a Connect call of the annotated RPC and sent to the wrapped handler, whose answer (or error) is turned back into
// REST (a Connect not_found becomes HTTP 404, and so on). Connect, gRPC and gRPC-Web calls of the same services
// pass through unchanged, so the wrapped handler only ever sees the RPC protocols it already speaks, with the
// caller's headers (Authorization included).
//
// Mount Handler as the outermost handler of the public port, with everything else (health, metrics, the OpenAPI
// document…) as its fallback:
//
//	mux := http.NewServeMux()
//	mux.Handle(rest.OpenAPIJSONPath, rest.OpenAPIHandler())
//	mux.Handle(rest.OpenAPIYAMLPath, rest.OpenAPIHandler())
//	mux.Handle("/", gw) // health, metrics, gRPC health and reflection…
//	public, err := rest.Handler(gw, mux, rest.Services()...)
package rest

import (
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/vanguard"

	"github.com/ejazz/ejazz/gen/ejazz/analytics/v1/analyticsv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/media/v1/mediav1connect"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
)

// TargetProtocols are the protocols Handler assumes the wrapped handler speaks: those of a generated Connect
// handler and of the gateway's proxy. REST requests are transcoded to the first of them (Connect); calls in any
// of them pass through untouched.
var TargetProtocols = []vanguard.Protocol{vanguard.ProtocolConnect, vanguard.ProtocolGRPC, vanguard.ProtocolGRPCWeb}

// targetCodecs are the message encodings the wrapped handler accepts (both, like any Connect handler), so a
// Connect or gRPC call is never re-encoded and a REST call reaches it as JSON.
var targetCodecs = []string{vanguard.CodecJSON, vanguard.CodecProto}

// Services returns the fully-qualified names of every public Ejazz service (ejazz.post.v1.PostService…), sorted.
func Services() []string {
	return []string{
		analyticsv1connect.AnalyticsServiceName,
		authv1connect.AuthServiceName,
		feedv1connect.FeedServiceName,
		mediav1connect.MediaServiceName,
		notificationv1connect.NotificationServiceName,
		postv1connect.PostServiceName,
		userv1connect.UserServiceName,
	}
}

// Handler returns a handler that serves the named services (fully-qualified names, see Services; none means all
// of them) over REST, Connect, gRPC and gRPC-Web by forwarding every call to next, which must speak Connect, gRPC
// and gRPC-Web for those services (a generated Connect handler or a proxy to one).
//
// A request that is neither a REST call of an annotated RPC nor an RPC of these services (unknown path,
// /healthz, /grpc.health.v1.Health/Check…), and every OPTIONS request (CORS preflight), goes to fallback
// unchanged; a nil fallback answers 404. A REST path called with a method it is not mapped for answers 405.
// REST errors carry the Connect code's HTTP status (not_found 404, invalid_argument 400, unauthenticated 401,
// permission_denied 403…) and a JSON body {"code": <gRPC code number>, "message": "…", "details": […]}.
// Query parameters that name no field of the request are ignored.
//
// CORS for browsers belongs outside Handler (or in fallback, for preflights); REST uses GET, POST, PATCH and
// DELETE, so the CORS layer must allow those methods, not only Connect's GET and POST.
//
// Server-streaming RPCs (NotificationService.StreamNotifications) have no REST mapping: vanguard streams over
// REST only google.api.HttpBody responses. They remain reachable over Connect, gRPC and gRPC-Web.
func Handler(next, fallback http.Handler, services ...string) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("rest: next handler is nil")
	}
	if len(services) == 0 {
		services = Services()
	}
	svcs := make([]*vanguard.Service, 0, len(services))
	for _, name := range services {
		svcs = append(svcs, vanguard.NewService(name, next))
	}
	opts := []vanguard.TranscoderOption{
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(TargetProtocols...),
			vanguard.WithTargetCodecs(targetCodecs...),
			// Unknown query parameters (cache busters, tracking tags) are ignored rather than failing the
			// call: vanguard v0.4.0 would answer them with 500 internal.
			vanguard.WithRESTUnmarshalOptions(vanguard.RESTUnmarshalOptions{DiscardUnknownQueryParams: true}),
		),
	}
	if fallback == nil {
		fallback = http.NotFoundHandler()
	}
	opts = append(opts, vanguard.WithUnknownHandler(fallback))
	t, err := vanguard.NewTranscoder(svcs, opts...)
	if err != nil {
		return nil, fmt.Errorf("rest: build transcoder for %v: %w", services, err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No RPC or REST mapping uses OPTIONS, and vanguard answers it with 405 on REST paths: CORS preflights go
		// to the fallback, which may hold the CORS layer.
		if r.Method == http.MethodOptions {
			fallback.ServeHTTP(w, r)
			return
		}
		t.ServeHTTP(w, r)
	}), nil
}

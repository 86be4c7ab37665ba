package gateway

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The public APIs' descriptors, so the registry knows every routed
	// service's methods even in a gateway-only binary.
	_ "github.com/ejazz/ejazz/gen/ejazz/analytics/v1"
	_ "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	_ "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	_ "github.com/ejazz/ejazz/gen/ejazz/media/v1"
	_ "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	_ "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	_ "github.com/ejazz/ejazz/gen/ejazz/user/v1"
)

// procedure is what the gateway needs to know about one RPC.
type procedure struct {
	// idempotent: idempotency_level NO_SIDE_EFFECTS or IDEMPOTENT, so the
	// call may be retried on another instance after it reached one.
	idempotent bool
	// clientStream: the request body is a stream; it is not buffered (so
	// never retried once sent).
	clientStream bool
	// serverStream: the response is a stream; the route timeout does not
	// apply and the response is not buffered.
	serverStream bool
}

// procedures reads the service's methods from the protobuf registry, keyed
// by procedure path ("/pkg.Service/Method"). A service the registry does
// not know yields an empty map: its calls are treated as unary and not
// idempotent.
func procedures(service string) map[string]procedure {
	out := map[string]procedure{}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return out
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return out
	}
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		var p procedure
		if opts, ok := m.Options().(*descriptorpb.MethodOptions); ok {
			lvl := opts.GetIdempotencyLevel()
			p.idempotent = lvl == descriptorpb.MethodOptions_NO_SIDE_EFFECTS || lvl == descriptorpb.MethodOptions_IDEMPOTENT
		}
		p.clientStream, p.serverStream = m.IsStreamingClient(), m.IsStreamingServer()
		out["/"+service+"/"+string(m.Name())] = p
	}
	return out
}

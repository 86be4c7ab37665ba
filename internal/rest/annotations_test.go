package rest_test

import (
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/ejazz/ejazz/internal/rest"
)

// Every unary RPC of every public service has a REST mapping; streaming RPCs have none (vanguard cannot serve
// them over REST unless they answer google.api.HttpBody).
func TestEveryUnaryRPCHasAnHTTPRule(t *testing.T) {
	var mapped int
	for _, name := range rest.Services() {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			streaming := m.IsStreamingClient() || m.IsStreamingServer()
			switch {
			case streaming && rule != nil:
				t.Errorf("%s is streaming but has a REST mapping", m.FullName())
			case !streaming && rule == nil:
				t.Errorf("%s has no google.api.http annotation", m.FullName())
			case rule != nil:
				mapped++
			}
		}
	}
	if mapped == 0 {
		t.Fatal("no RPC has a REST mapping")
	}
}

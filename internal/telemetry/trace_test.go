package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/internal/devtemporal/devtemporaltest"
	"github.com/ejazz/ejazz/internal/telemetry"
)

const traceQueue = "telemetry-trace-test"

// GreetWorkflow is the test workflow: it runs one GreetActivity.
func GreetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, "GreetActivity", name).Get(ctx, &out)
	return out, err
}

// signIn implements AuthService.SignIn by running GreetWorkflow to completion.
type signIn struct {
	authv1connect.UnimplementedAuthServiceHandler
	temporal client.Client
}

func (s signIn) SignIn(ctx context.Context, req *connect.Request[authv1.SignInRequest]) (*connect.Response[authv1.SignInResponse], error) {
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet:" + req.Msg.Identifier, TaskQueue: traceQueue}, GreetWorkflow, req.Msg.Identifier)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&authv1.SignInResponse{UserId: out}), nil
}

// lockedBuffer is an io.Writer safe for the activity goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTraceRPCWorkflowActivity is the acceptance check: a Connect
// RPC that starts a workflow on a real (embedded) Temporal server, which
// runs an activity, yields ONE trace whose spans chain client RPC → server
// RPC → StartWorkflow → RunWorkflow → StartActivity → RunActivity; the
// activity's log line carries that trace's id; and the Temporal SDK's
// metrics reach the Prometheus registry.
func TestTraceRPCWorkflowActivity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	spans := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "ejazz-test", SpanExporter: spans})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	tp := tel.TracerProvider()

	frontend := devtemporaltest.Start(t, "default", nil)

	tracing, err := telemetry.TemporalInterceptor(tp)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.TemporalMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := client.DialContext(ctx, client.Options{
		HostPort: frontend, Namespace: "default",
		Logger:         tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		Interceptors:   []interceptor.ClientInterceptor{tracing},
		MetricsHandler: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)

	// The worker gets no interceptors of its own: the client's tracing
	// interceptor applies to it.
	var logs lockedBuffer
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&logs, nil)))
	w := worker.New(tc, traceQueue, worker.Options{})
	w.RegisterWorkflow(GreetWorkflow)
	w.RegisterActivityWithOptions(func(ctx context.Context, name string) (string, error) {
		logger.InfoContext(ctx, "greeting", "name", name)
		return "hello " + name, nil
	}, activity.RegisterOptions{Name: "GreetActivity"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	otel, err := telemetry.ConnectInterceptor(tp)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(authv1connect.NewAuthServiceHandler(signIn{temporal: tc}, connect.WithInterceptors(otel)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rpc := authv1connect.NewAuthServiceClient(srv.Client(), srv.URL, connect.WithInterceptors(otel))
	res, err := rpc.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: "ada"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.UserId != "hello ada" {
		t.Fatalf("SignIn returned %q, want the activity's %q", res.Msg.UserId, "hello ada")
	}

	const procedure = "ejazz.auth.v1.AuthService/SignIn"
	names := []string{procedure, "StartWorkflow:GreetWorkflow", "RunWorkflow:GreetWorkflow", "StartActivity:GreetActivity", "RunActivity:GreetActivity"}
	// Client and server RPC spans share the procedure name; told apart by kind.
	find := func(got tracetest.SpanStubs, name string, kind trace.SpanKind) *tracetest.SpanStub {
		for i := range got {
			if got[i].Name == name && (kind == trace.SpanKindUnspecified || got[i].SpanKind == kind) {
				return &got[i]
			}
		}
		return nil
	}
	var got tracetest.SpanStubs
	for deadline := time.Now().Add(10 * time.Second); ; {
		got = spans.GetSpans()
		if find(got, procedure, trace.SpanKindClient) != nil && !slices.ContainsFunc(names, func(n string) bool { return find(got, n, trace.SpanKindUnspecified) == nil }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans never all ended; have %v", spanNames(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("spans: %v", spanNames(got))

	chain := []*tracetest.SpanStub{
		find(got, procedure, trace.SpanKindClient),
		find(got, procedure, trace.SpanKindServer),
		find(got, "StartWorkflow:GreetWorkflow", trace.SpanKindUnspecified),
		find(got, "RunWorkflow:GreetWorkflow", trace.SpanKindUnspecified),
		find(got, "StartActivity:GreetActivity", trace.SpanKindUnspecified),
		find(got, "RunActivity:GreetActivity", trace.SpanKindUnspecified),
	}
	root := chain[0]
	if root.Parent.IsValid() {
		t.Errorf("client RPC span has parent %v, want a root span", root.Parent.SpanID())
	}
	traceID := root.SpanContext.TraceID()
	for i, s := range chain[1:] {
		parent := chain[i]
		if s.SpanContext.TraceID() != traceID {
			t.Errorf("%s (%v) is in trace %v, want %v", s.Name, s.SpanKind, s.SpanContext.TraceID(), traceID)
		}
		if s.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("%s (%v) has parent span %v, want %s (%v) %v", s.Name, s.SpanKind, s.Parent.SpanID(), parent.Name, parent.SpanKind, parent.SpanContext.SpanID())
		}
	}

	// The activity's log line names the trace and the RunActivity span.
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(logs.String())), &line); err != nil {
		t.Fatalf("activity log %q: %v", logs.String(), err)
	}
	if line["trace_id"] != traceID.String() || line["span_id"] != chain[5].SpanContext.SpanID().String() {
		t.Errorf("activity log has trace_id=%v span_id=%v, want %v %v", line["trace_id"], line["span_id"], traceID, chain[5].SpanContext.SpanID())
	}

	// Temporal SDK metrics reached the registry.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, f := range families {
		series = append(series, f.GetName())
	}
	t.Logf("prometheus series: %s", strings.Join(series, " "))
	for _, want := range []string{
		"temporal_activity_execution_latency_seconds",
		"temporal_workflow_completed_total",
		"temporal_workflow_task_execution_latency_seconds",
		"temporal_request_total",
	} {
		if !slices.Contains(series, want) {
			t.Errorf("registry lacks %s", want)
		}
	}
}

func spanNames(s tracetest.SpanStubs) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Name+"/"+x.SpanKind.String())
	}
	return out
}

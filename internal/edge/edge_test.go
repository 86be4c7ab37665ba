package edge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
)

func TestCORSPreflight(t *testing.T) {
	h := New(Options{Services: Services(Handlers{}), CORSOrigins: []string{"*"}})
	// Browsers send the requested headers lowercase and sorted.
	for _, reqHeaders := range []string{"authorization,connect-protocol-version,content-type", "content-type,x-grpc-web,x-user-agent"} {
		req := httptest.NewRequest(http.MethodOptions, "/ejazz.feed.v1.FeedService/GetTrending", nil)
		req.Header.Set("Origin", "http://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", reqHeaders)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("preflight for %q: headers %v", reqHeaders, rec.Header())
		}
		for _, want := range strings.Split(reqHeaders, ",") {
			if !strings.Contains(strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), want) {
				t.Errorf("preflight for %q does not allow %s: %v", reqHeaders, want, rec.Header())
			}
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var failing error
	h := New(Options{
		Services: Services(Handlers{}),
		Checks:   []Check{{Name: "db", Check: func(context.Context) error { return failing }}},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	health := grpchealth.NewClient(srv.Client(), srv.URL)
	check := func(service string) (grpchealth.Status, error) {
		res, err := health.Check(context.Background(), &grpchealth.CheckRequest{Service: service})
		if err != nil {
			return 0, err
		}
		return res.Status, nil
	}
	if st, err := check(""); err != nil || st != grpchealth.StatusServing {
		t.Fatalf("health = %v, %v; want serving", st, err)
	}
	if st, err := check("ejazz.post.v1.PostService"); err != nil || st != grpchealth.StatusServing {
		t.Fatalf("post service health = %v, %v; want serving", st, err)
	}
	if _, err := check("ejazz.chat.v1.ChatService"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("unknown service health error = %v, want not_found", err)
	}
	if code := status(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d while healthy", code)
	}

	failing = errors.New("db down")
	if st, err := check(""); err != nil || st != grpchealth.StatusNotServing {
		t.Fatalf("health = %v, %v; want not serving", st, err)
	}
	if code := status(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while a check fails", code)
	}
	if code := status(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d: liveness must not depend on engines", code)
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

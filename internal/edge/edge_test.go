package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ejazz/ejazz/internal/rest"
)

func TestOpenAPIDocument(t *testing.T) {
	srv := httptest.NewServer(rest.OpenAPIHandler())
	t.Cleanup(srv.Close)

	res, err := http.Get(srv.URL + rest.OpenAPIJSONPath)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	// Path parameters are named in JSON style ({userId}) by the generator; the URL shape is the annotation's.
	tests := []struct{ path, method, op string }{
		{"/v1/users/{userId}", "get", "UserService_GetProfile"},
		{"/v1/posts", "post", "PostService_CreatePost"},
		{"/v1/posts/{postId}", "delete", "PostService_DeletePost"},
		{"/v1/me/notifications", "get", "NotificationService_ListNotifications"},
	}
	for _, tc := range tests {
		if got := doc.Paths[tc.path][tc.method].OperationID; got != tc.op {
			t.Errorf("%s %s: operationId %q, want %q", tc.method, tc.path, got, tc.op)
		}
	}

	for path, want := range map[string]int{rest.OpenAPIYAMLPath: http.StatusOK, "/openapi.xml": http.StatusNotFound} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", path, res.StatusCode, want)
		}
	}
}

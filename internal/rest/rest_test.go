package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/rest"
)

// fakeUsers answers GetProfile for "u1" (by ID or by handle "alice") and records the Authorization header seen.
type fakeUsers struct {
	userv1connect.UnimplementedUserServiceHandler
	mu   sync.Mutex
	auth string
}

func (f *fakeUsers) GetProfile(_ context.Context, req *connect.Request[userv1.GetProfileRequest]) (*connect.Response[userv1.GetProfileResponse], error) {
	f.mu.Lock()
	f.auth = req.Header().Get("Authorization")
	f.mu.Unlock()
	m := req.Msg
	if m.GetUserId() != "u1" && m.GetHandle() != "alice" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("user not found"))
	}
	return connect.NewResponse(&userv1.GetProfileResponse{Profile: &userv1.Profile{
		UserId: "u1", Handle: "alice", DisplayName: "Alice", FollowerCount: 7,
	}}), nil
}

func (f *fakeUsers) Follow(_ context.Context, req *connect.Request[userv1.FollowRequest]) (*connect.Response[userv1.FollowResponse], error) {
	if req.Msg.GetUserId() != "u1" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("user not found"))
	}
	return connect.NewResponse(&userv1.FollowResponse{State: userv1.FollowState_FOLLOW_STATE_FOLLOWING}), nil
}

func (f *fakeUsers) seenAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auth
}

// fakePosts creates posts for callers with a token and maps GetPost IDs to errors.
type fakePosts struct {
	postv1connect.UnimplementedPostServiceHandler
	mu      sync.Mutex
	created *postv1.CreatePostRequest
}

func (f *fakePosts) CreatePost(_ context.Context, req *connect.Request[postv1.CreatePostRequest]) (*connect.Response[postv1.CreatePostResponse], error) {
	if req.Header().Get("Authorization") == "" {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	if req.Msg.GetText() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("text: must not be empty"))
	}
	f.mu.Lock()
	f.created = req.Msg
	f.mu.Unlock()
	return connect.NewResponse(&postv1.CreatePostResponse{Post: &postv1.Post{
		PostId: "p1", AuthorId: "u1", Text: req.Msg.GetText(), Visibility: req.Msg.GetVisibility(),
	}}), nil
}

func (f *fakePosts) GetPost(_ context.Context, req *connect.Request[postv1.GetPostRequest]) (*connect.Response[postv1.GetPostResponse], error) {
	switch req.Msg.GetPostId() {
	case "p1":
		return connect.NewResponse(&postv1.GetPostResponse{Post: &postv1.Post{PostId: "p1", Text: "hello"}}), nil
	case "missing":
		return nil, connect.NewError(connect.CodeNotFound, errors.New("post not found"))
	case "private":
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("not yours"))
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("post_id: malformed"))
	}
}

// BatchGetPosts echoes the requested IDs as posts, so a test sees how query parameters were decoded.
func (f *fakePosts) BatchGetPosts(_ context.Context, req *connect.Request[postv1.BatchGetPostsRequest]) (*connect.Response[postv1.BatchGetPostsResponse], error) {
	res := &postv1.BatchGetPostsResponse{}
	for _, id := range req.Msg.GetPostIds() {
		res.Posts = append(res.Posts, &postv1.Post{PostId: id})
	}
	return connect.NewResponse(res), nil
}

// ListComments reports page_size and page_token back in the next page token.
func (f *fakePosts) ListComments(_ context.Context, req *connect.Request[postv1.ListCommentsRequest]) (*connect.Response[postv1.ListCommentsResponse], error) {
	return connect.NewResponse(&postv1.ListCommentsResponse{
		NextPageToken: fmt.Sprintf("%s/%d/%s", req.Msg.GetPostId(), req.Msg.GetPageSize(), req.Msg.GetPageToken()),
	}), nil
}

func (f *fakePosts) lastCreated() *postv1.CreatePostRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}

type fixture struct {
	srv   *httptest.Server
	users *fakeUsers
	posts *fakePosts
}

// newFixture serves the two fake services behind rest.Handler (with a fallback answering /healthz) over TLS with
// HTTP/2, so that gRPC clients work too.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{users: &fakeUsers{}, posts: &fakePosts{}}
	next := http.NewServeMux()
	next.Handle(userv1connect.NewUserServiceHandler(f.users))
	next.Handle(postv1connect.NewPostServiceHandler(f.posts))
	fallback := http.NewServeMux()
	fallback.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	fallback.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions { // stands in for a CORS layer
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.NotFound(w, r)
	})
	h, err := rest.Handler(next, fallback, userv1connect.UserServiceName, postv1connect.PostServiceName)
	if err != nil {
		t.Fatalf("rest.Handler: %v", err)
	}
	f.srv = httptest.NewUnstartedServer(h)
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request with an optional JSON body and bearer token and returns the status and body.
func (f *fixture) do(t *testing.T, method, path, body, token string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func TestRESTGetWithPathParameter(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v1/users/u1", "/v1/handles/alice"} {
		t.Run(path, func(t *testing.T) {
			code, body := f.do(t, http.MethodGet, path, "", "")
			if code != http.StatusOK {
				t.Fatalf("status %d, body %s", code, body)
			}
			var got struct {
				Profile struct {
					UserID        string `json:"userId"`
					Handle        string `json:"handle"`
					DisplayName   string `json:"displayName"`
					FollowerCount int    `json:"followerCount"`
				} `json:"profile"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			p := got.Profile
			if p.UserID != "u1" || p.Handle != "alice" || p.DisplayName != "Alice" || p.FollowerCount != 7 {
				t.Fatalf("profile = %+v, body %s", p, body)
			}
		})
	}
}

func TestRESTQueryParameters(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ path, want string }{
		{"/v1/posts:batchGet?post_ids=a&post_ids=b", `"postId":"a"`},
		{"/v1/posts:batchGet?postIds=c", `"postId":"c"`},
		{"/v1/posts/p1/comments?page_size=5&page_token=t1", `"nextPageToken":"p1/5/t1"`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := f.do(t, http.MethodGet, tc.path, "", "")
			if code != http.StatusOK || !strings.Contains(strings.ReplaceAll(string(body), " ", ""), tc.want) {
				t.Fatalf("status %d, body %s, want %s", code, body, tc.want)
			}
		})
	}
	if code, body := f.do(t, http.MethodGet, "/v1/posts/p1/comments?page_size=many", "", ""); code != http.StatusBadRequest {
		t.Fatalf("malformed page_size: status %d, want 400 (body %s)", code, body)
	}
}

func TestRESTPostWithJSONBody(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, http.MethodPost, "/v1/posts",
		`{"text":"hello #world","visibility":"VISIBILITY_FRIENDS","idempotencyKey":"k1"}`, "tok")
	if code != http.StatusOK {
		t.Fatalf("status %d, body %s", code, body)
	}
	got := f.posts.lastCreated()
	if got == nil {
		t.Fatal("CreatePost was not called")
	}
	if got.GetText() != "hello #world" || got.GetVisibility() != postv1.Visibility_VISIBILITY_FRIENDS || got.GetIdempotencyKey() != "k1" {
		t.Fatalf("handler got %v", got)
	}
	var res struct {
		Post struct {
			PostID     string `json:"postId"`
			Visibility string `json:"visibility"`
		} `json:"post"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if res.Post.PostID != "p1" || res.Post.Visibility != "VISIBILITY_FRIENDS" {
		t.Fatalf("response %s", body)
	}
}

// An action whose only field is in the path (body "*") works with an empty body and with {}.
func TestRESTPostActionWithoutBody(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{"", "{}"} {
		code, res := f.do(t, http.MethodPost, "/v1/users/u1/follow", body, "tok")
		if code != http.StatusOK || !strings.Contains(string(res), `"FOLLOW_STATE_FOLLOWING"`) {
			t.Fatalf("body %q: status %d, response %s", body, code, res)
		}
	}
	if code, res := f.do(t, http.MethodPost, "/v1/users/zz/follow", "", "tok"); code != http.StatusNotFound {
		t.Fatalf("follow unknown user: status %d, response %s", code, res)
	}
}

func TestRESTErrorStatus(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path, body, token string
		want                            int
	}{
		{"not_found", http.MethodGet, "/v1/posts/missing", "", "", http.StatusNotFound},
		{"invalid_argument", http.MethodGet, "/v1/posts/bad", "", "", http.StatusBadRequest},
		{"permission_denied", http.MethodGet, "/v1/posts/private", "", "", http.StatusForbidden},
		{"unauthenticated", http.MethodPost, "/v1/posts", `{"text":"hi"}`, "", http.StatusUnauthorized},
		{"invalid_argument body", http.MethodPost, "/v1/posts", `{}`, "tok", http.StatusBadRequest},
		{"not_found profile", http.MethodGet, "/v1/users/nobody", "", "", http.StatusNotFound},
		{"unimplemented", http.MethodDelete, "/v1/posts/p1", "", "tok", http.StatusNotImplemented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.method, tc.path, tc.body, tc.token)
			if code != tc.want {
				t.Fatalf("status %d, want %d (body %s)", code, tc.want, body)
			}
			var status struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &status); err != nil || status.Message == "" {
				t.Fatalf("error body %s is not a status with a message (%v)", body, err)
			}
		})
	}
}

func TestAuthorizationPassesThrough(t *testing.T) {
	f := newFixture(t)
	if code, body := f.do(t, http.MethodGet, "/v1/users/u1", "", "secret-token"); code != http.StatusOK {
		t.Fatalf("status %d, body %s", code, body)
	}
	if got := f.users.seenAuth(); got != "Bearer secret-token" {
		t.Fatalf("handler saw Authorization %q", got)
	}
}

func TestRPCProtocolsStillWork(t *testing.T) {
	f := newFixture(t)
	clients := map[string][]connect.ClientOption{
		"connect":      nil,
		"connect-json": {connect.WithProtoJSON()},
		"grpc":         {connect.WithGRPC()},
		"grpc-web":     {connect.WithGRPCWeb()},
	}
	for name, opts := range clients {
		t.Run(name, func(t *testing.T) {
			users := userv1connect.NewUserServiceClient(f.srv.Client(), f.srv.URL, opts...)
			req := connect.NewRequest(&userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: "u1"}})
			req.Header().Set("Authorization", "Bearer "+name)
			res, err := users.GetProfile(context.Background(), req)
			if err != nil {
				t.Fatalf("GetProfile: %v", err)
			}
			if res.Msg.GetProfile().GetHandle() != "alice" {
				t.Fatalf("profile %v", res.Msg.GetProfile())
			}
			if got := f.users.seenAuth(); got != "Bearer "+name {
				t.Fatalf("handler saw Authorization %q", got)
			}
			posts := postv1connect.NewPostServiceClient(f.srv.Client(), f.srv.URL, opts...)
			_, err = posts.GetPost(context.Background(), connect.NewRequest(&postv1.GetPostRequest{PostId: "missing"}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("GetPost(missing) error %v, want not_found", err)
			}
		})
	}
}

func TestUnknownRequestsReachFallback(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"fallback route", http.MethodGet, "/healthz", http.StatusOK},
		{"unknown REST path", http.MethodGet, "/v1/nope/u1", http.StatusNotFound},
		{"CORS preflight on a REST path", http.MethodOptions, "/v1/posts", http.StatusNoContent},
		{"service not served", http.MethodGet, "/v1/me/timeline", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := f.do(t, tc.method, tc.path, "", ""); code != tc.want {
				t.Fatalf("status %d, want %d (body %s)", code, tc.want, body)
			}
		})
	}
}

func TestRESTMethodNotMapped(t *testing.T) {
	f := newFixture(t)
	if code, body := f.do(t, http.MethodPut, "/v1/posts/p1", "", ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /v1/posts/p1: status %d, want 405 (body %s)", code, body)
	}
}

func TestRESTIgnoresUnknownQueryParameters(t *testing.T) {
	f := newFixture(t)
	if code, body := f.do(t, http.MethodGet, "/v1/posts/p1?cachebust=1", "", ""); code != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %s)", code, body)
	}
}

func TestUnknownPathWithoutFallback(t *testing.T) {
	h, err := rest.Handler(http.NotFoundHandler(), nil)
	if err != nil {
		t.Fatalf("rest.Handler (all services): %v", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/unknown", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", rec.Code)
	}
}

func TestHandlerRejectsUnknownService(t *testing.T) {
	if _, err := rest.Handler(http.NotFoundHandler(), nil, "ejazz.nope.v1.NopeService"); err == nil {
		t.Fatal("want an error for an unknown service")
	}
	if _, err := rest.Handler(nil, nil); err == nil {
		t.Fatal("want an error for a nil next handler")
	}
}

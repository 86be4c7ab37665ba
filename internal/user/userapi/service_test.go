package userapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	profilesqlite "github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/user/userapi"
)

// testUserHeader names the caller in tests; the real middleware verifies tokens.
const testUserHeader = "X-Test-User"

func withTestCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(testUserHeader); id != "" {
			r = r.WithContext(auth.WithCaller(r.Context(), auth.Caller{UserID: id}))
		}
		next.ServeHTTP(w, r)
	})
}

type env struct {
	store  profile.Store
	graph  graph.Store
	events *event.Recorder
	client userv1connect.UserServiceClient
	url    string
}

var created = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func setup(t *testing.T, h2c bool) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	st := profilesqlite.New(db)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	gs := graphsqlite.New(db)
	if err := gs.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	events := &event.Recorder{}
	svc := &userapi.Service{Profiles: st, Graph: gs, Events: events, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	mux.Handle(userv1connect.NewUserServiceHandler(svc))
	h := withTestCaller(mux)

	var srv *httptest.Server
	httpClient := http.DefaultClient
	var opts []connect.ClientOption
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		srv = httptest.NewUnstartedServer(h)
		srv.Config.Protocols = &p
		srv.Start()
		httpClient = &http.Client{Transport: &http.Transport{Protocols: &p}}
		opts = append(opts, connect.WithGRPC())
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)

	for _, p := range []profile.Profile{
		{UserID: "u-alice", Handle: "Alice", DisplayName: "Alice Liddell", Bio: "down the hole", AvatarMediaID: "m-1", CreatedAt: created},
		{UserID: "u-bob", Handle: "bob", DisplayName: "Bob", IsPrivate: true, CreatedAt: created},
	} {
		if err := st.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := gs.PutUser(ctx, p.UserID, p.IsPrivate); err != nil {
			t.Fatal(err)
		}
	}
	return &env{store: st, graph: gs, events: events, client: userv1connect.NewUserServiceClient(httpClient, srv.URL, opts...), url: srv.URL}
}

func as[T any](userID string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if userID != "" {
		req.Header().Set(testUserHeader, userID)
	}
	return req
}

// wantCode checks err's code and, when field is set, that the message names it.
func wantCode(t *testing.T, err error, code connect.Code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != code {
		t.Fatalf("got %v, want %v", err, code)
	}
	if field != "" && !strings.Contains(ce.Message(), field) {
		t.Fatalf("message %q does not name %q", ce.Message(), field)
	}
}

func TestGetProfile(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()

	want := &userv1.Profile{UserId: "u-alice", Handle: "Alice", DisplayName: "Alice Liddell", Bio: "down the hole", AvatarMediaId: "m-1"}
	for name, msg := range map[string]*userv1.GetProfileRequest{
		"by id":      {Lookup: &userv1.GetProfileRequest_UserId{UserId: "u-alice"}},
		"by handle":  {Lookup: &userv1.GetProfileRequest_Handle{Handle: "aLiCe"}},
		"by @handle": {Lookup: &userv1.GetProfileRequest_Handle{Handle: "@ALICE"}},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := e.client.GetProfile(ctx, as("", msg)) // anonymous
			if err != nil {
				t.Fatal(err)
			}
			got := res.Msg.GetProfile()
			if !got.GetCreatedAt().AsTime().Equal(created) {
				t.Errorf("created_at = %v, want %v", got.GetCreatedAt().AsTime(), created)
			}
			got.CreatedAt = nil
			if !proto.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}

	res, err := e.client.GetProfile(ctx, as("u-alice", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: "u-bob"}}))
	if err != nil || !res.Msg.GetProfile().GetIsPrivate() {
		t.Fatalf("bob: %v, %v", res, err)
	}

	_, err = e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: "u-nobody"}}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_Handle{Handle: "nobody"}}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument, "user_id")
	_, err = e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_Handle{Handle: ""}}))
	wantCode(t, err, connect.CodeInvalidArgument, "handle")
	_, err = e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ""}}))
	wantCode(t, err, connect.CodeInvalidArgument, "user_id")
}

func TestGetProfileGRPC(t *testing.T) {
	e := setup(t, true)
	ctx := context.Background()
	res, err := e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_Handle{Handle: "BOB"}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetProfile().GetUserId() != "u-bob" {
		t.Fatalf("got %v", res.Msg.GetProfile())
	}
	_, err = e.client.GetProfile(ctx, as("", &userv1.GetProfileRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument, "user_id")
}

func TestUpdateProfile(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()

	_, err := e.client.UpdateProfile(ctx, as("", &userv1.UpdateProfileRequest{DisplayName: proto.String("X")}))
	wantCode(t, err, connect.CodeUnauthenticated, "")

	for _, tc := range []struct {
		field string
		msg   *userv1.UpdateProfileRequest
	}{
		{"display_name", &userv1.UpdateProfileRequest{DisplayName: proto.String(strings.Repeat("é", 51))}},
		{"display_name", &userv1.UpdateProfileRequest{DisplayName: proto.String("a\nb")}},
		{"display_name", &userv1.UpdateProfileRequest{DisplayName: proto.String("  ")}},
		{"bio", &userv1.UpdateProfileRequest{Bio: proto.String(strings.Repeat("é", userapi.MaxBioRunes+1))}},
		{"bio", &userv1.UpdateProfileRequest{Bio: proto.String("nul\x00here")}},
		{"avatar_media_id", &userv1.UpdateProfileRequest{AvatarMediaId: proto.String(strings.Repeat("a", 65))}},
		{"avatar_media_id", &userv1.UpdateProfileRequest{AvatarMediaId: proto.String("../etc")}},
	} {
		_, err := e.client.UpdateProfile(ctx, as("u-alice", tc.msg))
		wantCode(t, err, connect.CodeInvalidArgument, tc.field)
	}
	// Nothing changed by the rejected updates.
	if p, _ := e.store.Get(ctx, "u-alice"); p.DisplayName != "Alice Liddell" || p.Bio != "down the hole" || p.AvatarMediaID != "m-1" {
		t.Fatalf("profile changed by invalid updates: %+v", p)
	}

	// Limits are inclusive and counted in characters.
	longBio := strings.Repeat("é", userapi.MaxBioRunes)
	res, err := e.client.UpdateProfile(ctx, as("u-alice", &userv1.UpdateProfileRequest{
		Bio: proto.String(longBio), IsPrivate: proto.Bool(true), AvatarMediaId: proto.String(strings.Repeat("A-_9", 16)),
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := res.Msg.GetProfile()
	if got.GetBio() != longBio || !got.GetIsPrivate() || got.GetAvatarMediaId() != strings.Repeat("A-_9", 16) ||
		got.GetDisplayName() != "Alice Liddell" || got.GetHandle() != "Alice" {
		t.Fatalf("partial update: %v", got)
	}

	// Only display_name: the rest stays; empty avatar clears it.
	res, err = e.client.UpdateProfile(ctx, as("u-alice", &userv1.UpdateProfileRequest{
		DisplayName: proto.String(strings.Repeat("é", 50)), AvatarMediaId: proto.String(""),
	}))
	if err != nil {
		t.Fatal(err)
	}
	got = res.Msg.GetProfile()
	if got.GetDisplayName() != strings.Repeat("é", 50) || got.GetBio() != longBio || !got.GetIsPrivate() || got.GetAvatarMediaId() != "" {
		t.Fatalf("second update: %v", got)
	}
	if p, _ := e.store.Get(ctx, "u-alice"); p.DisplayName != strings.Repeat("é", 50) {
		t.Fatalf("not stored: %+v", p)
	}

	// Bob's update touches Bob only.
	res, err = e.client.UpdateProfile(ctx, as("u-bob", &userv1.UpdateProfileRequest{Bio: proto.String("bob's bio")}))
	if err != nil || res.Msg.GetProfile().GetUserId() != "u-bob" {
		t.Fatalf("bob: %v, %v", res, err)
	}
	if p, _ := e.store.Get(ctx, "u-alice"); p.Bio != longBio {
		t.Fatalf("alice's profile changed by bob: %+v", p)
	}

	// A caller without a profile.
	_, err = e.client.UpdateProfile(ctx, as("u-ghost", &userv1.UpdateProfileRequest{Bio: proto.String("x")}))
	wantCode(t, err, connect.CodeNotFound, "")
}

func TestSearchUsers(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	for _, h := range []string{"carol1", "carol2", "carol3", "carol4", "carol5"} {
		if err := e.store.Create(ctx, profile.Profile{UserID: "u-" + h, Handle: h, DisplayName: "Carol"}); err != nil {
			t.Fatal(err)
		}
	}

	var handles []string
	token := ""
	pages := 0
	for {
		res, err := e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: "  CAROL ", PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(res.Msg.GetUsers()) > 2 {
			t.Fatalf("page of %d", len(res.Msg.GetUsers()))
		}
		for _, u := range res.Msg.GetUsers() {
			handles = append(handles, u.GetHandle())
		}
		token = res.Msg.GetNextPageToken()
		if token == "" || pages > 10 {
			break
		}
	}
	if got := strings.Join(handles, ","); got != "carol1,carol2,carol3,carol4,carol5" || pages != 3 {
		t.Fatalf("got %s in %d pages", got, pages)
	}

	// Default page size holds them all.
	res, err := e.client.SearchUsers(ctx, as("u-alice", &userv1.SearchUsersRequest{Query: "carol", PageSize: 1000}))
	if err != nil || len(res.Msg.GetUsers()) != 5 || res.Msg.GetNextPageToken() != "" {
		t.Fatalf("one page: %v, %v", res, err)
	}

	// A token from another query or garbage.
	first, err := e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: "carol", PageSize: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: "alice", PageToken: first.Msg.GetNextPageToken()}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")
	_, err = e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: "carol", PageToken: "!!not-a-token"}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")

	_, err = e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: "carol", PageSize: -1}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_size")
	_, err = e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: "   "}))
	wantCode(t, err, connect.CodeInvalidArgument, "query")
	_, err = e.client.SearchUsers(ctx, as("", &userv1.SearchUsersRequest{Query: strings.Repeat("é", 101)}))
	wantCode(t, err, connect.CodeInvalidArgument, "query")
}

func TestDeleteAccountUnimplemented(t *testing.T) {
	e := setup(t, false)
	_, err := e.client.DeleteAccount(context.Background(), as("u-alice", &userv1.DeleteAccountRequest{Password: "x"}))
	wantCode(t, err, connect.CodeUnimplemented, "")
}

// brokenStore fails every read like an engine outage.
type brokenStore struct{ profile.Store }

func (brokenStore) Get(context.Context, string) (profile.Profile, error) {
	return profile.Profile{}, errors.New("disk on fire: /var/lib/secret.db")
}

func TestStoreFailureIsUnavailable(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(userv1connect.NewUserServiceHandler(&userapi.Service{
		Profiles: brokenStore{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := userv1connect.NewUserServiceClient(http.DefaultClient, srv.URL)
	_, err := c.GetProfile(context.Background(), as("", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: "u"}}))
	wantCode(t, err, connect.CodeUnavailable, "")
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("internals leaked: %v", err)
	}
}

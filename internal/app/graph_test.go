package app_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/engine/neo4j"
	"github.com/ejazz/ejazz/internal/engine/sqlite"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// member is a registered, verified, signed-in user.
type member struct {
	id, handle, token string
}

// register signs a user up through the registration workflow, verifies the
// mailed code and signs in.
func register(ctx context.Context, t testing.TB, base string, readMail mailReader, name string) member {
	t.Helper()
	c := authv1connect.NewAuthServiceClient(http.DefaultClient, base)
	handle := storetest.UniqueName(name)
	email := handle + "@example.com"
	up, err := c.SignUp(ctx, connect.NewRequest(&authv1.SignUpRequest{Email: email, Handle: handle, Password: "correct horse battery", DisplayName: name}))
	if err != nil {
		t.Fatalf("SignUp %s: %v", name, err)
	}
	code := waitCode(t, readMail, email, codeRE)
	if _, err := c.VerifyEmail(ctx, connect.NewRequest(&authv1.VerifyEmailRequest{Token: code})); err != nil {
		t.Fatalf("VerifyEmail %s: %v", name, err)
	}
	in, err := c.SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: handle, Password: "correct horse battery"}))
	if err != nil {
		t.Fatalf("SignIn %s: %v", name, err)
	}
	return member{id: up.Msg.GetUserId(), handle: handle, token: in.Msg.GetAccessToken()}
}

// by returns msg as a request of m (anonymous for the zero member).
func by[T any](m member, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if m.token != "" {
		req.Header().Set("Authorization", "Bearer "+m.token)
	}
	return req
}

// graphFlow drives the relationship RPCs through the public API with real
// tokens: the registration created each user's graph node (hasNode), follows
// and follow requests of a private account, friends, counts on profiles,
// suggestions, and the authorization cases (anonymous, another user, a
// blocked user).
func graphFlow(t *testing.T, base string, readMail mailReader, hasNode func(t *testing.T, id string) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	ana := register(ctx, t, base, readMail, "ana")
	ben := register(ctx, t, base, readMail, "ben")
	cat := register(ctx, t, base, readMail, "cat")
	dan := register(ctx, t, base, readMail, "dan")
	for _, m := range []member{ana, ben, cat, dan} {
		if !hasNode(t, m.id) {
			t.Fatalf("registration did not create the graph node of %s", m.handle)
		}
	}
	code := func(err error) connect.Code { return connect.CodeOf(err) }
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	counts := func(viewer, m member) (int32, int32, int32) {
		t.Helper()
		res, err := users.GetProfile(ctx, by(viewer, &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_Handle{Handle: m.handle}}))
		must("GetProfile", err)
		p := res.Msg.GetProfile()
		return p.GetFollowerCount(), p.GetFollowingCount(), p.GetFriendCount()
	}

	// Anonymous callers may read profiles, not change relationships.
	if _, err := users.Follow(ctx, by(member{}, &userv1.FollowRequest{UserId: ben.id})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous Follow = %v, want unauthenticated", err)
	}
	if _, err := users.Follow(ctx, by(member{token: "not.a.jwt"}, &userv1.FollowRequest{UserId: ben.id})); code(err) != connect.CodeUnauthenticated {
		t.Fatalf("Follow with a garbage token = %v, want unauthenticated", err)
	}
	if _, err := users.Follow(ctx, by(ana, &userv1.FollowRequest{UserId: ana.id})); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("following yourself = %v, want invalid_argument", err)
	}

	// Public follow, then ben goes private: cat's follow is a request.
	res, err := users.Follow(ctx, by(ana, &userv1.FollowRequest{UserId: ben.id}))
	if err != nil || res.Msg.GetState() != userv1.FollowState_FOLLOW_STATE_FOLLOWING {
		t.Fatalf("Follow = %v, %v", res, err)
	}
	private := true
	_, err = users.UpdateProfile(ctx, by(ben, &userv1.UpdateProfileRequest{IsPrivate: &private}))
	must("UpdateProfile(private)", err)
	res, err = users.Follow(ctx, by(cat, &userv1.FollowRequest{UserId: ben.id}))
	if err != nil || res.Msg.GetState() != userv1.FollowState_FOLLOW_STATE_REQUESTED {
		t.Fatalf("Follow(private) = %v, %v", res, err)
	}
	// Another user cannot approve it; cat cannot see ben's followers yet.
	if _, err := users.ApproveFollowRequest(ctx, by(ana, &userv1.ApproveFollowRequestRequest{UserId: cat.id})); code(err) != connect.CodeNotFound {
		t.Fatalf("ana approving a request to ben = %v, want not_found", err)
	}
	if _, err := users.ListFollowers(ctx, by(cat, &userv1.ListFollowersRequest{UserId: ben.id})); code(err) != connect.CodePermissionDenied {
		t.Fatalf("ListFollowers of a private account = %v, want permission_denied", err)
	}
	_, err = users.ApproveFollowRequest(ctx, by(ben, &userv1.ApproveFollowRequestRequest{UserId: cat.id}))
	must("ApproveFollowRequest", err)
	fl, err := users.ListFollowers(ctx, by(cat, &userv1.ListFollowersRequest{UserId: ben.id, PageSize: 1}))
	must("ListFollowers", err)
	if len(fl.Msg.GetUsers()) != 1 || fl.Msg.GetUsers()[0].GetUserId() != cat.id || fl.Msg.GetNextPageToken() == "" {
		t.Fatalf("first follower page = %v", fl.Msg)
	}
	fl, err = users.ListFollowers(ctx, by(cat, &userv1.ListFollowersRequest{UserId: ben.id, PageSize: 1, PageToken: fl.Msg.GetNextPageToken()}))
	must("ListFollowers page 2", err)
	if len(fl.Msg.GetUsers()) != 1 || fl.Msg.GetUsers()[0].GetUserId() != ana.id || fl.Msg.GetNextPageToken() != "" {
		t.Fatalf("second follower page = %v", fl.Msg)
	}

	// Friends: cat asks ana, ana accepts; they follow each other.
	_, err = users.SendFriendRequest(ctx, by(cat, &userv1.SendFriendRequestRequest{UserId: ana.id}))
	must("SendFriendRequest", err)
	if _, err := users.SendFriendRequest(ctx, by(cat, &userv1.SendFriendRequestRequest{UserId: ana.id})); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("duplicate friend request = %v, want already_exists", err)
	}
	_, err = users.RespondToFriendRequest(ctx, by(ana, &userv1.RespondToFriendRequestRequest{UserId: cat.id, Accept: true}))
	must("RespondToFriendRequest", err)
	if f, g, fr := counts(member{}, ana); f != 1 || g != 2 || fr != 1 {
		t.Errorf("ana's counts = %d followers, %d following, %d friends; want 1/2/1", f, g, fr)
	}
	if f, _, _ := counts(member{}, ben); f != 2 {
		t.Errorf("ben's followers = %d, want 2", f)
	}

	// Suggestions: ana follows dan, so cat (ana's friend, who follows
	// ana) is suggested dan.
	_, err = users.Follow(ctx, by(ana, &userv1.FollowRequest{UserId: dan.id}))
	must("Follow dan", err)
	sg, err := users.SuggestUsers(ctx, by(cat, &userv1.SuggestUsersRequest{}))
	must("SuggestUsers", err)
	var suggested []string
	for _, s := range sg.Msg.GetSuggestions() {
		suggested = append(suggested, s.GetUser().GetUserId()+":"+s.GetReason())
	}
	if fmt.Sprint(suggested) != fmt.Sprint([]string{dan.id + ":followed_by_people_you_follow"}) {
		t.Errorf("cat's suggestions = %v, want dan (followed by ana)", suggested)
	}

	// Ben blocks cat: the follow is gone both ways, and for cat ben is nobody.
	_, err = users.Block(ctx, by(ben, &userv1.BlockRequest{UserId: cat.id}))
	must("Block", err)
	if f, _, _ := counts(member{}, ben); f != 1 {
		t.Errorf("ben's followers after the block = %d, want 1", f)
	}
	if _, err := users.GetProfile(ctx, by(cat, &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ben.id}})); code(err) != connect.CodeNotFound {
		t.Errorf("blocked user's GetProfile = %v, want not_found", err)
	}
	if _, err := users.Follow(ctx, by(cat, &userv1.FollowRequest{UserId: ben.id})); code(err) != connect.CodeNotFound {
		t.Errorf("blocked user's Follow = %v, want not_found", err)
	}
	if _, err := users.SendFriendRequest(ctx, by(cat, &userv1.SendFriendRequestRequest{UserId: ben.id})); code(err) != connect.CodeNotFound {
		t.Errorf("blocked user's SendFriendRequest = %v, want not_found", err)
	}
	rel, err := users.GetRelationship(ctx, by(cat, &userv1.GetRelationshipRequest{UserId: ben.id}))
	must("GetRelationship", err)
	if !rel.Msg.GetBlockedBy() || rel.Msg.GetFollowing() {
		t.Errorf("cat→ben = %v, want blocked_by only", rel.Msg)
	}
	// Anyone else still sees ben, with the follow that is left.
	if f, _, _ := counts(dan, ben); f != 1 {
		t.Errorf("ben's followers seen by dan = %d, want 1", f)
	}
	bl, err := users.ListBlocked(ctx, by(ben, &userv1.ListBlockedRequest{}))
	must("ListBlocked", err)
	if len(bl.Msg.GetUsers()) != 1 || bl.Msg.GetUsers()[0].GetUserId() != cat.id {
		t.Errorf("ListBlocked = %v", bl.Msg)
	}
}

// TestDevSocial runs the graph and post flows on the embedded profile.
func TestDevSocial(t *testing.T) {
	cfg := devConfig(t)
	cfg.Feed.FanoutThreshold = 1 // feedFlow's celebrity has 2 followers
	r, stop := startDev(t, cfg)
	defer stop()
	base := "http://" + r.HTTPAddr
	db, err := sqlite.Open(filepath.Join(cfg.DataDir, "db", "graph.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := graphsqlite.New(db)
	graphFlow(t, base, devMail(base), func(t *testing.T, id string) bool {
		m, err := g.Counts(context.Background(), []string{id})
		if err != nil {
			t.Fatal(err)
		}
		_, ok := m[id]
		return ok
	})
	postFlow(t, base, devMail(base))
	feedFlow(t, base, devMail(base))
}

// TestScaleSocial runs the graph and post flows on the scale profile: an
// accounts worker and the auth, user and post services on the real engines.
func TestScaleSocial(t *testing.T) {
	cfg := scaleConfig(t, "EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_SMTP_ADDR")
	cfg.Feed.FanoutThreshold = 1 // feedFlow's celebrity has 2 followers
	// The accounts and feed workers, and the public services.
	base, _ := startScale(t, cfg, []string{workflows.QueueAccounts, workflows.QueueFeed}, []string{"auth", "user", "post", "feed"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nd, err := neo4j.Open(ctx, neo4j.Options{URI: cfg.Neo4j.URI, Username: cfg.Neo4j.Username, Password: cfg.Neo4j.Password, Database: cfg.Neo4j.Database})
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Close(context.Background())
	readMail := mailpit(testenv.Require(t, "EJAZZ_MAILPIT_URL"))
	graphFlow(t, base, readMail, func(t *testing.T, id string) bool {
		res, err := nd.Run(context.Background(), "MATCH (u:User {id: $id}) RETURN count(u) AS n", map[string]any{"id": id})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.Records[0].Get("n")
		return n == int64(1)
	})
	postFlow(t, base, readMail)
	feedFlow(t, base, readMail)
}

// runUntilCancelled starts a process function (Serve, Work) and waits until
// it is ready; the returned stop cancels it and checks its clean exit.
func runUntilCancelled(t *testing.T, ctx context.Context, run func(ctx context.Context, ready func(*app.Running)) error) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	readyc := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(*app.Running) { readyc <- struct{}{} }) }()
	select {
	case <-readyc:
	case err := <-done:
		cancel()
		t.Fatalf("did not start: %v", err)
	}
	return func() {
		cancel()
		if err := <-done; err != nil && !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("shutdown: %v", err)
		}
	}
}

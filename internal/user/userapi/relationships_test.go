package userapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/internal/profile"
)

// addUser creates a profile and, unless legacy, its graph node.
func (e *env) addUser(t *testing.T, id string, private, legacy bool) {
	t.Helper()
	ctx := context.Background()
	if err := e.store.Create(ctx, profile.Profile{UserID: id, Handle: id[2:], DisplayName: id, IsPrivate: private, CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	if !legacy {
		if _, err := e.graph.PutUser(ctx, id, private); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) rel(t *testing.T, caller, other string) *userv1.GetRelationshipResponse {
	t.Helper()
	res, err := e.client.GetRelationship(context.Background(), as(caller, &userv1.GetRelationshipRequest{UserId: other}))
	if err != nil {
		t.Fatalf("GetRelationship(%s→%s): %v", caller, other, err)
	}
	return res.Msg
}

func (e *env) profile(t *testing.T, caller, id string) *userv1.Profile {
	t.Helper()
	res, err := e.client.GetProfile(context.Background(), as(caller, &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: id}}))
	if err != nil {
		t.Fatalf("GetProfile(%s) as %q: %v", id, caller, err)
	}
	return res.Msg.GetProfile()
}

// kinds lists the recorded events as "kind actor→subject".
func (e *env) kinds() []string {
	var out []string
	for _, ev := range e.events.Events() {
		out = append(out, fmt.Sprintf("%s %s→%s", ev.Kind, ev.ActorID, ev.SubjectID))
	}
	return out
}

func userIDs(ps []*userv1.Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.GetUserId()
	}
	return out
}

func TestFollowPublicAndPrivate(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	e.addUser(t, "u-carol", false, false)

	res, err := e.client.Follow(ctx, as("u-carol", &userv1.FollowRequest{UserId: "u-alice"}))
	if err != nil || res.Msg.GetState() != userv1.FollowState_FOLLOW_STATE_FOLLOWING {
		t.Fatalf("Follow(public) = %v, %v", res, err)
	}
	if _, err := e.client.Follow(ctx, as("u-carol", &userv1.FollowRequest{UserId: "u-alice"})); err != nil {
		t.Fatalf("repeated Follow: %v", err)
	}
	if p := e.profile(t, "", "u-alice"); p.GetFollowerCount() != 1 {
		t.Errorf("alice's follower_count = %d after two Follow calls, want 1", p.GetFollowerCount())
	}
	if p := e.profile(t, "", "u-carol"); p.GetFollowingCount() != 1 {
		t.Errorf("carol's following_count = %d, want 1", p.GetFollowingCount())
	}

	res, err = e.client.Follow(ctx, as("u-carol", &userv1.FollowRequest{UserId: "u-bob"}))
	if err != nil || res.Msg.GetState() != userv1.FollowState_FOLLOW_STATE_REQUESTED {
		t.Fatalf("Follow(private) = %v, %v", res, err)
	}
	if r := e.rel(t, "u-carol", "u-bob"); !r.GetFollowRequested() || r.GetFollowing() {
		t.Errorf("carol→bob = %v, want follow_requested", r)
	}
	reqs, err := e.client.ListFollowRequests(ctx, as("u-bob", &userv1.ListFollowRequestsRequest{}))
	if err != nil || len(reqs.Msg.GetRequests()) != 1 || reqs.Msg.GetRequests()[0].GetUser().GetUserId() != "u-carol" ||
		reqs.Msg.GetRequests()[0].GetCreatedAt() == nil {
		t.Fatalf("ListFollowRequests = %v, %v", reqs, err)
	}
	// Bob's followers are private until carol is approved.
	_, err = e.client.ListFollowers(ctx, as("u-carol", &userv1.ListFollowersRequest{UserId: "u-bob"}))
	wantCode(t, err, connect.CodePermissionDenied, "")
	_, err = e.client.ApproveFollowRequest(ctx, as("u-bob", &userv1.ApproveFollowRequestRequest{UserId: "u-alice"}))
	wantCode(t, err, connect.CodeNotFound, "")
	if _, err := e.client.ApproveFollowRequest(ctx, as("u-bob", &userv1.ApproveFollowRequestRequest{UserId: "u-carol"})); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	fl, err := e.client.ListFollowers(ctx, as("u-carol", &userv1.ListFollowersRequest{UserId: "u-bob"}))
	if err != nil || fmt.Sprint(userIDs(fl.Msg.GetUsers())) != "[u-carol]" {
		t.Fatalf("ListFollowers(bob) as approved follower = %v, %v", fl, err)
	}
	if fl.Msg.GetUsers()[0].GetFollowingCount() != 2 {
		t.Errorf("hydrated follower has following_count %d, want 2", fl.Msg.GetUsers()[0].GetFollowingCount())
	}

	// Going public approves pending requests.
	e.addUser(t, "u-dave", false, false)
	if _, err := e.client.Follow(ctx, as("u-dave", &userv1.FollowRequest{UserId: "u-bob"})); err != nil {
		t.Fatal(err)
	}
	public := false
	if _, err := e.client.UpdateProfile(ctx, as("u-bob", &userv1.UpdateProfileRequest{IsPrivate: &public})); err != nil {
		t.Fatalf("UpdateProfile(public): %v", err)
	}
	if r := e.rel(t, "u-dave", "u-bob"); !r.GetFollowing() {
		t.Errorf("dave→bob after bob went public = %v, want following", r)
	}
	if _, err := e.client.Unfollow(ctx, as("u-carol", &userv1.UnfollowRequest{UserId: "u-alice"})); err != nil {
		t.Fatalf("Unfollow: %v", err)
	}
	if _, err := e.client.Unfollow(ctx, as("u-carol", &userv1.UnfollowRequest{UserId: "u-alice"})); err != nil {
		t.Fatalf("repeated Unfollow: %v", err)
	}
	want := "[follow u-carol→u-alice follow_request u-carol→u-bob follow u-carol→u-bob follow_request u-dave→u-bob follow u-dave→u-bob unfollow u-carol→u-alice]"
	if got := fmt.Sprint(e.kinds()); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
}

func TestFriendsOverRPC(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	e.addUser(t, "u-carol", false, false)
	if _, err := e.client.SendFriendRequest(ctx, as("u-carol", &userv1.SendFriendRequestRequest{UserId: "u-alice"})); err != nil {
		t.Fatalf("SendFriendRequest: %v", err)
	}
	_, err := e.client.SendFriendRequest(ctx, as("u-carol", &userv1.SendFriendRequestRequest{UserId: "u-alice"}))
	wantCode(t, err, connect.CodeAlreadyExists, "")
	in, err := e.client.ListFriendRequests(ctx, as("u-alice", &userv1.ListFriendRequestsRequest{}))
	if err != nil || len(in.Msg.GetRequests()) != 1 || in.Msg.GetRequests()[0].GetDirection() != userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_INCOMING {
		t.Fatalf("incoming requests = %v, %v", in, err)
	}
	out, err := e.client.ListFriendRequests(ctx, as("u-carol", &userv1.ListFriendRequestsRequest{Direction: userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_OUTGOING}))
	if err != nil || len(out.Msg.GetRequests()) != 1 || out.Msg.GetRequests()[0].GetUser().GetUserId() != "u-alice" {
		t.Fatalf("outgoing requests = %v, %v", out, err)
	}
	_, err = e.client.ListFriendRequests(ctx, as("u-carol", &userv1.ListFriendRequestsRequest{Direction: 9}))
	wantCode(t, err, connect.CodeInvalidArgument, "direction")
	// Alice answering with a request of her own makes them friends.
	res, err := e.client.SendFriendRequest(ctx, as("u-alice", &userv1.SendFriendRequestRequest{UserId: "u-carol"}))
	if err != nil || !res.Msg.GetFriends() {
		t.Fatalf("crossing SendFriendRequest = %v, %v; want friends", res, err)
	}
	fr, err := e.client.ListFriends(ctx, as("u-alice", &userv1.ListFriendsRequest{}))
	if err != nil || fmt.Sprint(userIDs(fr.Msg.GetUsers())) != "[u-carol]" {
		t.Fatalf("ListFriends = %v, %v", fr, err)
	}
	if p := e.profile(t, "u-alice", "u-carol"); p.GetFriendCount() != 1 || p.GetFollowerCount() != 1 || p.GetFollowingCount() != 1 {
		t.Errorf("carol's counts = %d friends, %d followers, %d following; want 1/1/1", p.GetFriendCount(), p.GetFollowerCount(), p.GetFollowingCount())
	}
	if _, err := e.client.RemoveFriend(ctx, as("u-carol", &userv1.RemoveFriendRequest{UserId: "u-alice"})); err != nil {
		t.Fatalf("RemoveFriend: %v", err)
	}
	if r := e.rel(t, "u-alice", "u-carol"); r.GetFriends() || r.GetFollowing() || r.GetFollowedBy() {
		t.Errorf("after RemoveFriend = %v", r)
	}
	_, err = e.client.CancelFriendRequest(ctx, as("u-carol", &userv1.CancelFriendRequestRequest{UserId: "u-alice"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.RespondToFriendRequest(ctx, as("u-carol", &userv1.RespondToFriendRequestRequest{UserId: "u-alice", Accept: true}))
	wantCode(t, err, connect.CodeNotFound, "")
	want := "[friend_request u-carol→u-alice friend_accepted u-alice→u-carol follow u-alice→u-carol follow u-carol→u-alice unfriend u-carol→u-alice unfollow u-carol→u-alice unfollow u-alice→u-carol]"
	if got := fmt.Sprint(e.kinds()); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
}

func TestBlockHidesAndRefuses(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	e.addUser(t, "u-carol", false, false)
	if _, err := e.client.Follow(ctx, as("u-carol", &userv1.FollowRequest{UserId: "u-alice"})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Block(ctx, as("u-alice", &userv1.BlockRequest{UserId: "u-carol"})); err != nil {
		t.Fatalf("Block: %v", err)
	}
	if _, err := e.client.Block(ctx, as("u-alice", &userv1.BlockRequest{UserId: "u-carol"})); err != nil {
		t.Fatalf("repeated Block: %v", err)
	}
	// The blocked user: the blocker looks like nobody.
	_, err := e.client.GetProfile(ctx, as("u-carol", &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: "u-alice"}}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.Follow(ctx, as("u-carol", &userv1.FollowRequest{UserId: "u-alice"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.SendFriendRequest(ctx, as("u-carol", &userv1.SendFriendRequestRequest{UserId: "u-alice"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.ListFollowers(ctx, as("u-carol", &userv1.ListFollowersRequest{UserId: "u-alice"}))
	wantCode(t, err, connect.CodeNotFound, "")
	s, err := e.client.SearchUsers(ctx, as("u-carol", &userv1.SearchUsersRequest{Query: "alice"}))
	if err != nil || len(s.Msg.GetUsers()) != 0 {
		t.Errorf("blocked user's search for the blocker = %v, %v; want nothing", s, err)
	}
	if r := e.rel(t, "u-carol", "u-alice"); !r.GetBlockedBy() || r.GetFollowing() {
		t.Errorf("carol→alice = %v, want blocked_by only", r)
	}
	// Others still see alice, with the follow gone.
	if p := e.profile(t, "", "u-alice"); p.GetFollowerCount() != 0 {
		t.Errorf("alice's followers after block = %d", p.GetFollowerCount())
	}
	// The blocker may not follow either, and is told why.
	_, err = e.client.Follow(ctx, as("u-alice", &userv1.FollowRequest{UserId: "u-carol"}))
	wantCode(t, err, connect.CodeFailedPrecondition, "unblock")
	// The blocked user may block back.
	if _, err := e.client.Block(ctx, as("u-carol", &userv1.BlockRequest{UserId: "u-alice"})); err != nil {
		t.Fatalf("block back: %v", err)
	}
	bl, err := e.client.ListBlocked(ctx, as("u-alice", &userv1.ListBlockedRequest{}))
	if err != nil || fmt.Sprint(userIDs(bl.Msg.GetUsers())) != "[u-carol]" {
		t.Fatalf("ListBlocked = %v, %v", bl, err)
	}
	if _, err := e.client.Unblock(ctx, as("u-alice", &userv1.UnblockRequest{UserId: "u-carol"})); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	if r := e.rel(t, "u-alice", "u-carol"); r.GetBlocking() || !r.GetBlockedBy() {
		t.Errorf("alice→carol after unblock = %v, want blocked_by (carol still blocks)", r)
	}
	want := "[follow u-carol→u-alice block u-alice→u-carol unfollow u-carol→u-alice block u-carol→u-alice unblock u-alice→u-carol]"
	if got := fmt.Sprint(e.kinds()); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
}

func TestMuteIsSilent(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	if _, err := e.client.Mute(ctx, as("u-alice", &userv1.MuteRequest{UserId: "u-bob"})); err != nil {
		t.Fatalf("Mute: %v", err)
	}
	if r := e.rel(t, "u-bob", "u-alice"); r.GetMuting() || r.GetBlockedBy() {
		t.Errorf("bob→alice = %v: the muted user must see nothing", r)
	}
	if r := e.rel(t, "u-alice", "u-bob"); !r.GetMuting() {
		t.Errorf("alice→bob = %v, want muting", r)
	}
	m, err := e.client.ListMuted(ctx, as("u-alice", &userv1.ListMutedRequest{}))
	if err != nil || fmt.Sprint(userIDs(m.Msg.GetUsers())) != "[u-bob]" {
		t.Fatalf("ListMuted = %v, %v", m, err)
	}
	if _, err := e.client.Unmute(ctx, as("u-alice", &userv1.UnmuteRequest{UserId: "u-bob"})); err != nil {
		t.Fatalf("Unmute: %v", err)
	}
	if len(e.events.Events()) != 0 {
		t.Errorf("mutes published events: %v", e.kinds())
	}
}

func TestRelationshipRPCsAuthz(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	type call func(caller, target string) error
	calls := map[string]call{
		"Follow": func(c, u string) error {
			_, err := e.client.Follow(ctx, as(c, &userv1.FollowRequest{UserId: u}))
			return err
		},
		"Unfollow": func(c, u string) error {
			_, err := e.client.Unfollow(ctx, as(c, &userv1.UnfollowRequest{UserId: u}))
			return err
		},
		"SendFriendRequest": func(c, u string) error {
			_, err := e.client.SendFriendRequest(ctx, as(c, &userv1.SendFriendRequestRequest{UserId: u}))
			return err
		},
		"RemoveFriend": func(c, u string) error {
			_, err := e.client.RemoveFriend(ctx, as(c, &userv1.RemoveFriendRequest{UserId: u}))
			return err
		},
		"Block": func(c, u string) error {
			_, err := e.client.Block(ctx, as(c, &userv1.BlockRequest{UserId: u}))
			return err
		},
		"Mute": func(c, u string) error {
			_, err := e.client.Mute(ctx, as(c, &userv1.MuteRequest{UserId: u}))
			return err
		},
		"GetRelationship": func(c, u string) error {
			_, err := e.client.GetRelationship(ctx, as(c, &userv1.GetRelationshipRequest{UserId: u}))
			return err
		},
		"ListFollowers": func(c, u string) error {
			_, err := e.client.ListFollowers(ctx, as(c, &userv1.ListFollowersRequest{UserId: u}))
			return err
		},
	}
	for name, f := range calls {
		t.Run(name, func(t *testing.T) {
			wantCode(t, f("", "u-alice"), connect.CodeUnauthenticated, "")
			wantCode(t, f("u-alice", "u-nobody"), connect.CodeNotFound, "")
			if name != "ListFollowers" { // listing your own followers is fine
				wantCode(t, f("u-alice", "u-alice"), connect.CodeInvalidArgument, "user_id")
			}
		})
	}
	for _, f := range []func() error{
		func() error {
			_, err := e.client.ListFollowRequests(ctx, as("", &userv1.ListFollowRequestsRequest{}))
			return err
		},
		func() error {
			_, err := e.client.ListBlocked(ctx, as("", &userv1.ListBlockedRequest{}))
			return err
		},
		func() error {
			_, err := e.client.SuggestUsers(ctx, as("", &userv1.SuggestUsersRequest{}))
			return err
		},
	} {
		wantCode(t, f(), connect.CodeUnauthenticated, "")
	}
	_, err := e.client.ListFollowers(ctx, as("u-alice", &userv1.ListFollowersRequest{PageToken: "garbage!"}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_token")
	_, err = e.client.ListFollowers(ctx, as("u-alice", &userv1.ListFollowersRequest{PageSize: -3}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_size")
	_, err = e.client.BatchGetProfiles(ctx, as("", &userv1.BatchGetProfilesRequest{UserIds: make([]string, 101)}))
	wantCode(t, err, connect.CodeInvalidArgument, "user_ids")
}

func TestLegacyUsersGetGraphNodes(t *testing.T) {
	e := setup(t, false)
	e.addUser(t, "u-old", true, true) // a profile without a graph node
	res, err := e.client.Follow(context.Background(), as("u-alice", &userv1.FollowRequest{UserId: "u-old"}))
	if err != nil || res.Msg.GetState() != userv1.FollowState_FOLLOW_STATE_REQUESTED {
		t.Fatalf("Follow(legacy private user) = %v, %v; want requested", res, err)
	}
}

func TestSuggestAndListPagination(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("u-fan%d", i)
		e.addUser(t, id, false, false)
		if _, err := e.client.Follow(ctx, as(id, &userv1.FollowRequest{UserId: "u-alice"})); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	var got []string
	token := ""
	for {
		res, err := e.client.ListFollowers(ctx, as("u-fan0", &userv1.ListFollowersRequest{UserId: "u-alice", PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, userIDs(res.Msg.GetUsers())...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(got) != "[u-fan4 u-fan3 u-fan2 u-fan1 u-fan0]" {
		t.Errorf("followers, 2 a page = %v", got)
	}
	// fan0 follows alice; alice follows fan1 → fan0 is suggested fan1.
	if _, err := e.client.Follow(ctx, as("u-alice", &userv1.FollowRequest{UserId: "u-fan1"})); err != nil {
		t.Fatal(err)
	}
	sg, err := e.client.SuggestUsers(ctx, as("u-fan0", &userv1.SuggestUsersRequest{}))
	if err != nil || len(sg.Msg.GetSuggestions()) != 1 {
		t.Fatalf("SuggestUsers = %v, %v", sg, err)
	}
	if s := sg.Msg.GetSuggestions()[0]; s.GetUser().GetUserId() != "u-fan1" || s.GetReason() != string("followed_by_people_you_follow") || s.GetMutualFriendCount() != 1 {
		t.Errorf("suggestion = %v", s)
	}
}

package userapi

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// errNoUser is the answer for unknown users and users who block the caller:
// the two look the same from outside.
var errNoUser = connect.NewError(connect.CodeNotFound, errors.New("no such user"))

// signedIn returns the caller's user ID or `unauthenticated`.
func signedIn(ctx context.Context) (string, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	return c.UserID, nil
}

// target validates the user_id of a relationship RPC.
func target(caller, id string) error {
	switch {
	case id == "" || len(id) > maxLookupLen:
		return invalid("user_id", "is required and at most 128 bytes")
	case id == caller:
		return invalid("user_id", "must be another user, not yourself")
	}
	return nil
}

// relate returns the caller's relationship to the target, or not_found when
// the target does not exist. Users whose graph node is missing (accounts
// created before the graph store existed) get one from their profile.
func (s *Service) relate(ctx context.Context, caller, other string) (graph.Relationship, error) {
	r, err := s.Graph.Relationship(ctx, caller, other)
	if errors.Is(err, storage.ErrNotFound) {
		if err := s.ensureNodes(ctx, caller, other); err != nil {
			return r, err
		}
		r, err = s.Graph.Relationship(ctx, caller, other)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return r, errNoUser
	}
	if err != nil {
		return r, s.unavailable(ctx, "relationship", err)
	}
	return r, nil
}

// ensureNodes puts graph nodes for users that have a profile.
func (s *Service) ensureNodes(ctx context.Context, ids ...string) error {
	ps, err := s.Profiles.GetMany(ctx, ids)
	if err != nil {
		return s.unavailable(ctx, "get profiles", err)
	}
	if len(ps) != len(ids) {
		return errNoUser
	}
	for _, p := range ps {
		if _, err := s.Graph.PutUser(ctx, p.UserID, p.IsPrivate); err != nil {
			return s.unavailable(ctx, "put graph user", err)
		}
	}
	return nil
}

// prepare is the common start of a mutation on the caller's relationship to
// req's user_id: signed in, a valid other user that exists and does not block
// the caller (unless the RPC works regardless, like Block).
func (s *Service) prepare(ctx context.Context, id string, evenIfBlocked bool) (caller string, r graph.Relationship, err error) {
	if caller, err = signedIn(ctx); err != nil {
		return "", r, err
	}
	if err = target(caller, id); err != nil {
		return "", r, err
	}
	if r, err = s.relate(ctx, caller, id); err != nil {
		return "", r, err
	}
	if r.BlockedBy && !evenIfBlocked {
		return "", r, errNoUser
	}
	return caller, r, nil
}

// graphErr maps the graph port's errors of a mutation.
func (s *Service) graphErr(ctx context.Context, op string, err error, r graph.Relationship) error {
	switch {
	case errors.Is(err, graph.ErrBlocked) && r.Blocking:
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("you block this user; unblock them first"))
	case errors.Is(err, graph.ErrBlocked), errors.Is(err, storage.ErrNotFound):
		return errNoUser
	}
	return s.unavailable(ctx, op, err)
}

// publish hands events over; a failure is logged, not returned: the change
// is stored and the caller should not retry it because a listener is down.
func (s *Service) publish(ctx context.Context, events ...event.Event) {
	if s.Events == nil || len(events) == 0 {
		return
	}
	if err := s.Events.Publish(ctx, events...); err != nil {
		s.log().ErrorContext(ctx, "publish graph events", "err", err, "kind", string(events[0].Kind))
	}
}

// newFollows are the follow events of a friendship between a and b that did
// not exist in r (a's relationship to b before).
func newFollows(a, b string, r graph.Relationship, at time.Time) []event.Event {
	var out []event.Event
	if !r.Following {
		out = append(out, event.New(event.Followed, a, b, "", at))
	}
	if !r.FollowedBy {
		out = append(out, event.New(event.Followed, b, a, "", at))
	}
	return out
}

// Follow follows a user, or asks to when the account is private.
func (s *Service) Follow(ctx context.Context, req *connect.Request[userv1.FollowRequest]) (*connect.Response[userv1.FollowResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), false)
	if err != nil {
		return nil, err
	}
	if r.Blocking {
		return nil, s.graphErr(ctx, "follow", graph.ErrBlocked, r)
	}
	now := time.Now() // the edge's time and the event's (graph.WithTime)
	st, changed, err := s.Graph.Follow(graph.WithTime(ctx, now), caller, req.Msg.GetUserId())
	if err != nil {
		return nil, s.graphErr(ctx, "follow", err, r)
	}
	out := &userv1.FollowResponse{State: userv1.FollowState_FOLLOW_STATE_FOLLOWING}
	kind := event.Followed
	if st == graph.Requested {
		out.State, kind = userv1.FollowState_FOLLOW_STATE_REQUESTED, event.FollowRequested
	}
	if changed {
		s.publish(ctx, event.New(kind, caller, req.Msg.GetUserId(), "", now))
	}
	return connect.NewResponse(out), nil
}

// Unfollow stops following a user or withdraws a follow request.
func (s *Service) Unfollow(ctx context.Context, req *connect.Request[userv1.UnfollowRequest]) (*connect.Response[userv1.UnfollowResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), false)
	if err != nil {
		return nil, err
	}
	changed, err := s.Graph.Unfollow(ctx, caller, req.Msg.GetUserId())
	if err != nil {
		return nil, s.graphErr(ctx, "unfollow", err, r)
	}
	if changed && r.Following {
		s.publish(ctx, event.New(event.Unfollowed, caller, req.Msg.GetUserId(), "", time.Now()))
	}
	return connect.NewResponse(&userv1.UnfollowResponse{}), nil
}

// ApproveFollowRequest accepts a pending follow request to the caller.
func (s *Service) ApproveFollowRequest(ctx context.Context, req *connect.Request[userv1.ApproveFollowRequestRequest]) (*connect.Response[userv1.ApproveFollowRequestResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if err := s.Graph.ApproveFollowRequest(graph.WithTime(ctx, now), caller, req.Msg.GetUserId()); err != nil {
		return nil, s.requestErr(ctx, "approve follow request", err, r)
	}
	s.publish(ctx, event.New(event.Followed, req.Msg.GetUserId(), caller, "", now))
	return connect.NewResponse(&userv1.ApproveFollowRequestResponse{}), nil
}

// RejectFollowRequest drops a pending follow request to the caller.
func (s *Service) RejectFollowRequest(ctx context.Context, req *connect.Request[userv1.RejectFollowRequestRequest]) (*connect.Response[userv1.RejectFollowRequestResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	if err := s.Graph.RejectFollowRequest(ctx, caller, req.Msg.GetUserId()); err != nil {
		return nil, s.requestErr(ctx, "reject follow request", err, r)
	}
	return connect.NewResponse(&userv1.RejectFollowRequestResponse{}), nil
}

// requestErr maps errors of RPCs on a pending request: not_found when there
// is no such request.
func (s *Service) requestErr(ctx context.Context, op string, err error, r graph.Relationship) error {
	if errors.Is(err, storage.ErrNotFound) {
		return connect.NewError(connect.CodeNotFound, errors.New("no pending request from or to this user"))
	}
	return s.graphErr(ctx, op, err, r)
}

// SendFriendRequest asks a user to be friends (or accepts their request).
func (s *Service) SendFriendRequest(ctx context.Context, req *connect.Request[userv1.SendFriendRequestRequest]) (*connect.Response[userv1.SendFriendRequestResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), false)
	if err != nil {
		return nil, err
	}
	if r.Blocking {
		return nil, s.graphErr(ctx, "send friend request", graph.ErrBlocked, r)
	}
	now := time.Now()
	friends, err := s.Graph.SendFriendRequest(graph.WithTime(ctx, now), caller, req.Msg.GetUserId())
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		what := "you already asked this user to be friends"
		if r.Friends {
			what = "you are already friends"
		}
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New(what))
	case err != nil:
		return nil, s.graphErr(ctx, "send friend request", err, r)
	}
	if friends {
		s.publish(ctx, append([]event.Event{event.New(event.FriendAccepted, caller, req.Msg.GetUserId(), "", now)},
			newFollows(caller, req.Msg.GetUserId(), r, now)...)...)
	} else {
		s.publish(ctx, event.New(event.FriendRequested, caller, req.Msg.GetUserId(), "", now))
	}
	return connect.NewResponse(&userv1.SendFriendRequestResponse{Friends: friends}), nil
}

// RespondToFriendRequest accepts or declines a pending friend request.
func (s *Service) RespondToFriendRequest(ctx context.Context, req *connect.Request[userv1.RespondToFriendRequestRequest]) (*connect.Response[userv1.RespondToFriendRequestResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if err := s.Graph.RespondToFriendRequest(graph.WithTime(ctx, now), caller, req.Msg.GetUserId(), req.Msg.GetAccept()); err != nil {
		return nil, s.requestErr(ctx, "respond to friend request", err, r)
	}
	if req.Msg.GetAccept() {
		s.publish(ctx, append([]event.Event{event.New(event.FriendAccepted, caller, req.Msg.GetUserId(), "", now)},
			newFollows(caller, req.Msg.GetUserId(), r, now)...)...)
	}
	return connect.NewResponse(&userv1.RespondToFriendRequestResponse{}), nil
}

// CancelFriendRequest withdraws the caller's pending friend request.
func (s *Service) CancelFriendRequest(ctx context.Context, req *connect.Request[userv1.CancelFriendRequestRequest]) (*connect.Response[userv1.CancelFriendRequestResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	if err := s.Graph.CancelFriendRequest(ctx, caller, req.Msg.GetUserId()); err != nil {
		return nil, s.requestErr(ctx, "cancel friend request", err, r)
	}
	return connect.NewResponse(&userv1.CancelFriendRequestResponse{}), nil
}

// RemoveFriend ends a friendship (and the follows both ways).
func (s *Service) RemoveFriend(ctx context.Context, req *connect.Request[userv1.RemoveFriendRequest]) (*connect.Response[userv1.RemoveFriendResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	changed, err := s.Graph.RemoveFriend(ctx, caller, req.Msg.GetUserId())
	if err != nil {
		return nil, s.graphErr(ctx, "remove friend", err, r)
	}
	if changed {
		s.publish(ctx, lostEdges(caller, req.Msg.GetUserId(), r, event.Unfriended, time.Now())...)
	}
	return connect.NewResponse(&userv1.RemoveFriendResponse{}), nil
}

// lostEdges are the events of removing everything in r between a and b,
// led by kind.
func lostEdges(a, b string, r graph.Relationship, kind event.Kind, at time.Time) []event.Event {
	out := []event.Event{event.New(kind, a, b, "", at)}
	if r.Friends && kind != event.Unfriended {
		out = append(out, event.New(event.Unfriended, a, b, "", at))
	}
	if r.Following {
		out = append(out, event.New(event.Unfollowed, a, b, "", at))
	}
	if r.FollowedBy {
		out = append(out, event.New(event.Unfollowed, b, a, "", at))
	}
	return out
}

// Block blocks a user; it works even when that user blocks the caller.
func (s *Service) Block(ctx context.Context, req *connect.Request[userv1.BlockRequest]) (*connect.Response[userv1.BlockResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	changed, err := s.Graph.Block(ctx, caller, req.Msg.GetUserId())
	if err != nil {
		return nil, s.graphErr(ctx, "block", err, r)
	}
	if changed {
		s.publish(ctx, lostEdges(caller, req.Msg.GetUserId(), r, event.Blocked, time.Now())...)
	}
	return connect.NewResponse(&userv1.BlockResponse{}), nil
}

// Unblock removes the caller's block of a user.
func (s *Service) Unblock(ctx context.Context, req *connect.Request[userv1.UnblockRequest]) (*connect.Response[userv1.UnblockResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	changed, err := s.Graph.Unblock(ctx, caller, req.Msg.GetUserId())
	if err != nil {
		return nil, s.graphErr(ctx, "unblock", err, r)
	}
	if changed {
		s.publish(ctx, event.New(event.Unblocked, caller, req.Msg.GetUserId(), "", time.Now()))
	}
	return connect.NewResponse(&userv1.UnblockResponse{}), nil
}

// Mute hides a user's content from the caller; the user is not told.
func (s *Service) Mute(ctx context.Context, req *connect.Request[userv1.MuteRequest]) (*connect.Response[userv1.MuteResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	if _, err := s.Graph.Mute(ctx, caller, req.Msg.GetUserId()); err != nil {
		return nil, s.graphErr(ctx, "mute", err, r)
	}
	return connect.NewResponse(&userv1.MuteResponse{}), nil
}

// Unmute removes the caller's mute of a user.
func (s *Service) Unmute(ctx context.Context, req *connect.Request[userv1.UnmuteRequest]) (*connect.Response[userv1.UnmuteResponse], error) {
	caller, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	if _, err := s.Graph.Unmute(ctx, caller, req.Msg.GetUserId()); err != nil {
		return nil, s.graphErr(ctx, "unmute", err, r)
	}
	return connect.NewResponse(&userv1.UnmuteResponse{}), nil
}

// GetRelationship describes the caller's relationship to a user, both ways.
// A user who blocks the caller answers with blocked_by rather than
// not_found: the flag is part of the contract.
func (s *Service) GetRelationship(ctx context.Context, req *connect.Request[userv1.GetRelationshipRequest]) (*connect.Response[userv1.GetRelationshipResponse], error) {
	_, r, err := s.prepare(ctx, req.Msg.GetUserId(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.GetRelationshipResponse{
		Following: r.Following, FollowedBy: r.FollowedBy, Friends: r.Friends,
		FriendRequestSent: r.FriendRequestSent, FriendRequestReceived: r.FriendRequestReceived,
		FollowRequested: r.FollowRequested, FollowRequestReceived: r.FollowRequestReceived,
		Blocking: r.Blocking, BlockedBy: r.BlockedBy, Muting: r.Muting,
	}), nil
}

// listOf checks who may see user_id's followers, following or friends: the
// user, and when the account is private only its approved followers; a user
// who blocks the caller is not_found. An empty user_id means the caller.
func (s *Service) listOf(ctx context.Context, id string) (string, error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return "", err
	}
	if id == "" || id == caller {
		return caller, nil
	}
	if len(id) > maxLookupLen {
		return "", invalid("user_id", "must be at most 128 bytes")
	}
	r, err := s.relate(ctx, caller, id)
	if err != nil {
		return "", err
	}
	if r.BlockedBy {
		return "", errNoUser
	}
	p, err := s.Profiles.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return "", errNoUser
	}
	if err != nil {
		return "", s.unavailable(ctx, "get profile", err)
	}
	if p.IsPrivate && !r.Following {
		return "", connect.NewError(connect.CodePermissionDenied, errors.New("this account is private; follow it to see its connections"))
	}
	return id, nil
}

type lister func(ctx context.Context, userID, cursor string, limit int) (graph.Page, error)

// page fetches one page of a list and hydrates its users.
func (s *Service) page(ctx context.Context, list lister, userID string, size int32, token string) ([]*userv1.Profile, []graph.Edge, string, error) {
	n, err := apierr.PageSize(size, token)
	if err != nil {
		return nil, nil, "", err
	}
	p, err := list(ctx, userID, token, n)
	if errors.Is(err, graph.ErrBadCursor) {
		return nil, nil, "", invalid("page_token", "is invalid (it must come from a previous response of the same list)")
	}
	if err != nil {
		return nil, nil, "", s.unavailable(ctx, "list", err)
	}
	ids := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		ids[i] = e.UserID
	}
	users, err := s.hydrate(ctx, ids)
	if err != nil {
		return nil, nil, "", err
	}
	// Users whose profile is gone (an account being deleted) drop out;
	// keep edges aligned with users.
	edges := p.Edges[:0:0]
	byID := make(map[string]graph.Edge, len(p.Edges))
	for _, e := range p.Edges {
		byID[e.UserID] = e
	}
	for _, u := range users {
		edges = append(edges, byID[u.UserId])
	}
	return users, edges, p.Next, nil
}

// hydrate returns the profiles (with counts) of ids, in order, leaving out
// unknown users.
func (s *Service) hydrate(ctx context.Context, ids []string) ([]*userv1.Profile, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ps, err := s.Profiles.GetMany(ctx, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "get profiles", err)
	}
	return s.withCounts(ctx, ps)
}

// withCounts converts profiles and fills their relationship counters.
func (s *Service) withCounts(ctx context.Context, ps []profile.Profile) ([]*userv1.Profile, error) {
	out := make([]*userv1.Profile, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	var counts map[string]graph.Counts
	if s.Graph != nil {
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.UserID
		}
		var err error
		if counts, err = s.Graph.Counts(ctx, ids); err != nil {
			return nil, s.unavailable(ctx, "counts", err)
		}
	}
	var posts map[string]int64
	if s.Posts != nil {
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.UserID
		}
		var err error
		if posts, err = s.Posts.PostCounts(ctx, ids); err != nil {
			return nil, s.unavailable(ctx, "post counts", err)
		}
	}
	for i, p := range ps {
		out[i] = toProto(p)
		out[i].PostCount = int32(posts[p.UserID])
		c := counts[p.UserID]
		out[i].FollowerCount, out[i].FollowingCount, out[i].FriendCount = int32(c.Followers), int32(c.Following), int32(c.Friends)
	}
	return out, nil
}

// ListFollowers lists who follows user_id.
func (s *Service) ListFollowers(ctx context.Context, req *connect.Request[userv1.ListFollowersRequest]) (*connect.Response[userv1.ListFollowersResponse], error) {
	id, err := s.listOf(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	users, _, next, err := s.page(ctx, s.Graph.Followers, id, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListFollowersResponse{Users: users, NextPageToken: next}), nil
}

// ListFollowing lists whom user_id follows.
func (s *Service) ListFollowing(ctx context.Context, req *connect.Request[userv1.ListFollowingRequest]) (*connect.Response[userv1.ListFollowingResponse], error) {
	id, err := s.listOf(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	users, _, next, err := s.page(ctx, s.Graph.Following, id, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListFollowingResponse{Users: users, NextPageToken: next}), nil
}

// ListFriends lists user_id's friends.
func (s *Service) ListFriends(ctx context.Context, req *connect.Request[userv1.ListFriendsRequest]) (*connect.Response[userv1.ListFriendsResponse], error) {
	id, err := s.listOf(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	users, _, next, err := s.page(ctx, s.Graph.Friends, id, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListFriendsResponse{Users: users, NextPageToken: next}), nil
}

// ListFollowRequests lists the pending requests to follow the caller.
func (s *Service) ListFollowRequests(ctx context.Context, req *connect.Request[userv1.ListFollowRequestsRequest]) (*connect.Response[userv1.ListFollowRequestsResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	users, edges, next, err := s.page(ctx, s.Graph.FollowRequests, caller, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &userv1.ListFollowRequestsResponse{NextPageToken: next}
	for i, u := range users {
		out.Requests = append(out.Requests, &userv1.PendingFollowRequest{User: u, CreatedAt: timestamppb.New(edges[i].At)})
	}
	return connect.NewResponse(out), nil
}

// ListFriendRequests lists the caller's pending friend requests; the
// direction defaults to incoming.
func (s *Service) ListFriendRequests(ctx context.Context, req *connect.Request[userv1.ListFriendRequestsRequest]) (*connect.Response[userv1.ListFriendRequestsResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	dir := req.Msg.GetDirection()
	switch dir {
	case userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_UNSPECIFIED:
		dir = userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_INCOMING
	case userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_INCOMING, userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_OUTGOING:
	default:
		return nil, invalid("direction", "must be INCOMING or OUTGOING")
	}
	incoming := dir == userv1.FriendRequestDirection_FRIEND_REQUEST_DIRECTION_INCOMING
	list := func(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
		return s.Graph.FriendRequests(ctx, userID, incoming, cursor, limit)
	}
	users, edges, next, err := s.page(ctx, list, caller, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &userv1.ListFriendRequestsResponse{NextPageToken: next}
	for i, u := range users {
		out.Requests = append(out.Requests, &userv1.PendingFriendRequest{User: u, Direction: dir, CreatedAt: timestamppb.New(edges[i].At)})
	}
	return connect.NewResponse(out), nil
}

// ListBlocked lists whom the caller blocks.
func (s *Service) ListBlocked(ctx context.Context, req *connect.Request[userv1.ListBlockedRequest]) (*connect.Response[userv1.ListBlockedResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	users, _, next, err := s.page(ctx, s.Graph.Blocked, caller, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListBlockedResponse{Users: users, NextPageToken: next}), nil
}

// ListMuted lists whom the caller mutes.
func (s *Service) ListMuted(ctx context.Context, req *connect.Request[userv1.ListMutedRequest]) (*connect.Response[userv1.ListMutedResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	users, _, next, err := s.page(ctx, s.Graph.Muted, caller, req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.ListMutedResponse{Users: users, NextPageToken: next}), nil
}

// SuggestUsers suggests accounts to follow, friends of friends first.
func (s *Service) SuggestUsers(ctx context.Context, req *connect.Request[userv1.SuggestUsersRequest]) (*connect.Response[userv1.SuggestUsersResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	n, err := apierr.PageSize(req.Msg.GetPageSize(), "")
	if err != nil {
		return nil, err
	}
	sg, err := s.Graph.Suggest(ctx, caller, n)
	if err != nil {
		return nil, s.unavailable(ctx, "suggest", err)
	}
	ids := make([]string, len(sg))
	for i, x := range sg {
		ids[i] = x.UserID
	}
	users, err := s.hydrate(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]graph.Suggestion, len(sg))
	for _, x := range sg {
		byID[x.UserID] = x
	}
	out := &userv1.SuggestUsersResponse{}
	for _, u := range users {
		x := byID[u.UserId]
		out.Suggestions = append(out.Suggestions, &userv1.UserSuggestion{User: u, MutualFriendCount: int32(x.Mutual), Reason: string(x.Reason)})
	}
	return connect.NewResponse(out), nil
}

// BatchGetProfiles returns up to 100 profiles in the order asked.
func (s *Service) BatchGetProfiles(ctx context.Context, req *connect.Request[userv1.BatchGetProfilesRequest]) (*connect.Response[userv1.BatchGetProfilesResponse], error) {
	ids := req.Msg.GetUserIds()
	if len(ids) > apierr.MaxPageSize {
		return nil, invalid("user_ids", "must hold at most 100 IDs")
	}
	for _, id := range ids {
		if id == "" || len(id) > maxLookupLen {
			return nil, invalid("user_ids", "must hold non-empty IDs of at most 128 bytes")
		}
	}
	users, err := s.hydrate(ctx, ids)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.BatchGetProfilesResponse{Profiles: users}), nil
}

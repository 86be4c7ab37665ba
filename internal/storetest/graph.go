package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/storage"
)

// GraphStore is the conformance suite of the graph port: follows, private
// follow requests, the friends lifecycle, block side effects, mutes, keyset
// pagination, counts, suggestions, edge times (graph.WithTime) and
// ScanFollows. Engines shared between tests (Neo4j has
// one database) are isolated by fresh user IDs.
func GraphStore(t *testing.T, open func(t *testing.T) graph.Store) {
	Lifecycle(t, graph.Component, func(t *testing.T) storage.Store { return open(t) })

	// users puts n fresh public users and returns their IDs.
	users := func(t *testing.T, s graph.Store, c context.Context, n int) []string {
		t.Helper()
		prefix := UniqueName("u")
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s_%03d", prefix, i)
			if _, err := s.PutUser(c, ids[i], false); err != nil {
				t.Fatalf("PutUser(%s): %v", ids[i], err)
			}
		}
		return ids
	}
	rel := func(t *testing.T, s graph.Store, c context.Context, from, to string) graph.Relationship {
		t.Helper()
		r, err := s.Relationship(c, from, to)
		if err != nil {
			t.Fatalf("Relationship(%s, %s): %v", from, to, err)
		}
		return r
	}
	counts := func(t *testing.T, s graph.Store, c context.Context, id string) graph.Counts {
		t.Helper()
		m, err := s.Counts(c, []string{id})
		if err != nil {
			t.Fatalf("Counts: %v", err)
		}
		got, ok := m[id]
		if !ok {
			t.Fatalf("Counts: %s missing", id)
		}
		return got
	}
	ids := func(p graph.Page) []string {
		out := make([]string, len(p.Edges))
		for i, e := range p.Edges {
			out[i] = e.UserID
		}
		return out
	}
	type lister func(c context.Context, user, cursor string, limit int) (graph.Page, error)
	all := func(t *testing.T, c context.Context, list lister, user string, limit int) []string {
		t.Helper()
		var out []string
		cursor := ""
		for i := 0; ; i++ {
			p, err := list(c, user, cursor, limit)
			if err != nil {
				t.Fatalf("list page %d: %v", i, err)
			}
			if len(p.Edges) > limit {
				t.Fatalf("page %d has %d edges, limit %d", i, len(p.Edges), limit)
			}
			out = append(out, ids(p)...)
			if p.Next == "" {
				return out
			}
			if len(p.Edges) == 0 {
				t.Fatalf("page %d is empty but has a next cursor", i)
			}
			if i > 1000 {
				t.Fatal("pagination does not end")
			}
			cursor = p.Next
		}
	}
	eq := func(t *testing.T, what string, got, want []string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	t.Run("follow", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 3)
		a, b := u[0], u[1]
		st, changed, err := s.Follow(c, a, b)
		if err != nil || st != graph.Following || !changed {
			t.Fatalf("Follow = %v, %v, %v; want following, changed", st, changed, err)
		}
		st, changed, err = s.Follow(c, a, b)
		if err != nil || st != graph.Following || changed {
			t.Fatalf("second Follow = %v, %v, %v; want following, unchanged", st, changed, err)
		}
		if r := rel(t, s, c, a, b); !r.Following || r.FollowedBy || r.Friends {
			t.Errorf("a→b = %+v, want following only", r)
		}
		if r := rel(t, s, c, b, a); r.Following || !r.FollowedBy {
			t.Errorf("b→a = %+v, want followed_by only", r)
		}
		if got := counts(t, s, c, b); got.Followers != 1 || got.Following != 0 {
			t.Errorf("counts(b) = %+v, want 1 follower", got)
		}
		if got := counts(t, s, c, a); got.Following != 1 || got.Followers != 0 {
			t.Errorf("counts(a) = %+v, want 1 following", got)
		}
		changed, err = s.Unfollow(c, a, b)
		if err != nil || !changed {
			t.Fatalf("Unfollow = %v, %v", changed, err)
		}
		changed, err = s.Unfollow(c, a, b)
		if err != nil || changed {
			t.Fatalf("second Unfollow = %v, %v; want unchanged", changed, err)
		}
		if got := counts(t, s, c, b); got.Followers != 0 {
			t.Errorf("after unfollow counts(b) = %+v", got)
		}
		if _, _, err := s.Follow(c, a, "nobody_"+a); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Follow(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.Relationship(c, a, "nobody_"+a); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Relationship(unknown) = %v, want ErrNotFound", err)
		}
		m, err := s.Counts(c, []string{a, "nobody_" + a})
		if err != nil || len(m) != 1 {
			t.Errorf("Counts(known, unknown) = %v, %v; want one entry", m, err)
		}
	})

	t.Run("concurrent follows count once", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 2)
		var wg sync.WaitGroup
		var mu sync.Mutex
		changes := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, changed, err := s.Follow(c, u[0], u[1])
				if err != nil {
					t.Errorf("Follow: %v", err)
				}
				if changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if changes != 1 {
			t.Errorf("%d of 8 concurrent Follow calls reported a change, want 1", changes)
		}
		if got := counts(t, s, c, u[1]); got.Followers != 1 {
			t.Errorf("followers = %d, want 1", got.Followers)
		}
	})

	t.Run("private follow requests", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 4)
		owner, x, y, z := u[0], u[1], u[2], u[3]
		if _, err := s.PutUser(c, owner, true); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{x, y, z} {
			st, changed, err := s.Follow(c, f, owner)
			if err != nil || st != graph.Requested || !changed {
				t.Fatalf("Follow(private) = %v, %v, %v; want requested", st, changed, err)
			}
		}
		if st, changed, err := s.Follow(c, x, owner); err != nil || st != graph.Requested || changed {
			t.Fatalf("repeated Follow(private) = %v, %v, %v; want requested, unchanged", st, changed, err)
		}
		if r := rel(t, s, c, x, owner); !r.FollowRequested || r.Following {
			t.Errorf("x→owner = %+v, want follow_requested", r)
		}
		if r := rel(t, s, c, owner, x); !r.FollowRequestReceived {
			t.Errorf("owner→x = %+v, want follow_request_received", r)
		}
		if got := counts(t, s, c, owner); got.Followers != 0 {
			t.Errorf("requests counted as followers: %+v", got)
		}
		eq(t, "requests", all(t, c, s.FollowRequests, owner, 2), []string{z, y, x})

		if err := s.ApproveFollowRequest(c, owner, x); err != nil {
			t.Fatalf("Approve: %v", err)
		}
		if err := s.ApproveFollowRequest(c, owner, x); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second Approve = %v, want ErrNotFound", err)
		}
		if err := s.RejectFollowRequest(c, owner, y); err != nil {
			t.Fatalf("Reject: %v", err)
		}
		if err := s.RejectFollowRequest(c, owner, y); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second Reject = %v, want ErrNotFound", err)
		}
		if r := rel(t, s, c, x, owner); !r.Following || r.FollowRequested {
			t.Errorf("approved x→owner = %+v, want following", r)
		}
		if r := rel(t, s, c, y, owner); r.Following || r.FollowRequested {
			t.Errorf("rejected y→owner = %+v, want nothing", r)
		}
		// Withdrawing a request is Unfollow.
		if _, _, err := s.Follow(c, y, owner); err != nil {
			t.Fatal(err)
		}
		if changed, err := s.Unfollow(c, y, owner); err != nil || !changed {
			t.Fatalf("Unfollow(request) = %v, %v", changed, err)
		}
		if _, _, err := s.Follow(c, y, owner); err != nil {
			t.Fatal(err)
		}
		// Going public approves the pending requests (y and z).
		approved, err := s.PutUser(c, owner, false)
		if err != nil {
			t.Fatalf("PutUser(public): %v", err)
		}
		sort.Strings(approved)
		want := []string{y, z}
		sort.Strings(want)
		eq(t, "approved on going public", approved, want)
		if got := counts(t, s, c, owner); got.Followers != 3 {
			t.Errorf("followers after going public = %d, want 3", got.Followers)
		}
		if p, err := s.FollowRequests(c, owner, "", 10); err != nil || len(p.Edges) != 0 {
			t.Errorf("requests after going public = %v, %v", ids(p), err)
		}
		if again, err := s.PutUser(c, owner, false); err != nil || len(again) != 0 {
			t.Errorf("PutUser(public) again = %v, %v; want nothing approved", again, err)
		}
	})

	t.Run("friends lifecycle", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 4)
		a, b, p, q := u[0], u[1], u[2], u[3]
		if _, err := s.PutUser(c, b, true); err != nil { // friendship overrides privacy
			t.Fatal(err)
		}
		friends, err := s.SendFriendRequest(c, a, b)
		if err != nil || friends {
			t.Fatalf("SendFriendRequest = %v, %v", friends, err)
		}
		if _, err := s.SendFriendRequest(c, a, b); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("duplicate SendFriendRequest = %v, want ErrAlreadyExists", err)
		}
		if r := rel(t, s, c, a, b); !r.FriendRequestSent || r.Friends {
			t.Errorf("a→b = %+v, want friend_request_sent", r)
		}
		if r := rel(t, s, c, b, a); !r.FriendRequestReceived {
			t.Errorf("b→a = %+v, want friend_request_received", r)
		}
		eq(t, "b incoming", all(t, c, func(c context.Context, u, cur string, n int) (graph.Page, error) {
			return s.FriendRequests(c, u, true, cur, n)
		}, b, 10), []string{a})
		eq(t, "a outgoing", all(t, c, func(c context.Context, u, cur string, n int) (graph.Page, error) {
			return s.FriendRequests(c, u, false, cur, n)
		}, a, 10), []string{b})
		if err := s.RespondToFriendRequest(c, b, a, true); err != nil {
			t.Fatalf("accept: %v", err)
		}
		if err := s.RespondToFriendRequest(c, b, a, true); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second accept = %v, want ErrNotFound", err)
		}
		r := rel(t, s, c, a, b)
		if !r.Friends || !r.Following || !r.FollowedBy || r.FriendRequestSent || r.FollowRequested {
			t.Errorf("friends a→b = %+v, want friends following each other", r)
		}
		if _, err := s.SendFriendRequest(c, b, a); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("request between friends = %v, want ErrAlreadyExists", err)
		}
		for _, x := range []string{a, b} {
			if got := counts(t, s, c, x); got != (graph.Counts{Followers: 1, Following: 1, Friends: 1}) {
				t.Errorf("counts(%s) = %+v, want 1/1/1", x, got)
			}
		}
		eq(t, "friends of a", all(t, c, s.Friends, a, 10), []string{b})

		// Crossing requests become a friendship.
		if _, err := s.SendFriendRequest(c, p, q); err != nil {
			t.Fatal(err)
		}
		friends, err = s.SendFriendRequest(c, q, p)
		if err != nil || !friends {
			t.Fatalf("crossing SendFriendRequest = %v, %v; want friends", friends, err)
		}
		if r := rel(t, s, c, q, p); !r.Friends || r.FriendRequestReceived || r.FriendRequestSent {
			t.Errorf("q→p = %+v, want friends without requests", r)
		}
		// Decline and cancel.
		if _, err := s.SendFriendRequest(c, p, a); err != nil {
			t.Fatal(err)
		}
		if err := s.RespondToFriendRequest(c, a, p, false); err != nil {
			t.Fatalf("decline: %v", err)
		}
		if r := rel(t, s, c, p, a); r.Friends || r.FriendRequestSent || r.Following {
			t.Errorf("declined p→a = %+v, want nothing", r)
		}
		if _, err := s.SendFriendRequest(c, p, a); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelFriendRequest(c, p, a); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		if err := s.CancelFriendRequest(c, p, a); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second cancel = %v, want ErrNotFound", err)
		}
		if err := s.RespondToFriendRequest(c, a, p, true); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("accepting a cancelled request = %v, want ErrNotFound", err)
		}
		// Unfriending removes the follows both ways.
		changed, err := s.RemoveFriend(c, b, a)
		if err != nil || !changed {
			t.Fatalf("RemoveFriend = %v, %v", changed, err)
		}
		if changed, err := s.RemoveFriend(c, b, a); err != nil || changed {
			t.Fatalf("second RemoveFriend = %v, %v; want unchanged", changed, err)
		}
		if r := rel(t, s, c, a, b); r != (graph.Relationship{}) {
			t.Errorf("after unfriend a→b = %+v, want nothing", r)
		}
		if got := counts(t, s, c, a); got != (graph.Counts{}) {
			t.Errorf("after unfriend counts(a) = %+v", got)
		}
	})

	t.Run("block side effects", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 4)
		a, b, x, y := u[0], u[1], u[2], u[3]
		if _, err := s.SendFriendRequest(c, a, b); err != nil {
			t.Fatal(err)
		}
		if err := s.RespondToFriendRequest(c, b, a, true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutUser(c, x, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Follow(c, a, x); err != nil { // a request
			t.Fatal(err)
		}
		if _, err := s.SendFriendRequest(c, x, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mute(c, a, b); err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2]string{{b, a}, {x, a}} {
			changed, err := s.Block(c, pair[0], pair[1])
			if err != nil || !changed {
				t.Fatalf("Block(%v) = %v, %v", pair, changed, err)
			}
		}
		if changed, err := s.Block(c, b, a); err != nil || changed {
			t.Errorf("second Block = %v, %v; want unchanged", changed, err)
		}
		if r := rel(t, s, c, a, b); r != (graph.Relationship{BlockedBy: true, Muting: true}) {
			t.Errorf("a→b after b blocks a = %+v, want blocked_by and muting only", r)
		}
		if r := rel(t, s, c, b, a); r != (graph.Relationship{Blocking: true, MutedBy: true}) {
			t.Errorf("b→a = %+v, want blocking (and muted_by) only", r)
		}
		if r := rel(t, s, c, a, x); r != (graph.Relationship{BlockedBy: true}) {
			t.Errorf("a→x after x blocks a = %+v, want blocked_by only (requests gone)", r)
		}
		for _, x := range []string{a, b} {
			if got := counts(t, s, c, x); got != (graph.Counts{}) {
				t.Errorf("counts(%s) after block = %+v", x, got)
			}
		}
		if _, _, err := s.Follow(c, a, b); !errors.Is(err, graph.ErrBlocked) {
			t.Errorf("blocked Follow = %v, want ErrBlocked", err)
		}
		if _, _, err := s.Follow(c, b, a); !errors.Is(err, graph.ErrBlocked) {
			t.Errorf("blocker's Follow = %v, want ErrBlocked", err)
		}
		if _, err := s.SendFriendRequest(c, a, b); !errors.Is(err, graph.ErrBlocked) {
			t.Errorf("blocked SendFriendRequest = %v, want ErrBlocked", err)
		}
		eq(t, "b blocks", all(t, c, s.Blocked, b, 10), []string{a})
		if _, err := s.Block(c, b, y); err != nil {
			t.Fatal(err)
		}
		eq(t, "b blocks (newest first)", all(t, c, s.Blocked, b, 1), []string{y, a})
		if changed, err := s.Unblock(c, b, a); err != nil || !changed {
			t.Fatalf("Unblock = %v, %v", changed, err)
		}
		if changed, err := s.Unblock(c, b, a); err != nil || changed {
			t.Fatalf("second Unblock = %v, %v", changed, err)
		}
		if st, _, err := s.Follow(c, a, b); err != nil || st != graph.Following {
			t.Errorf("Follow after unblock = %v, %v", st, err)
		}
		if r := rel(t, s, c, a, b); r.Friends || !r.Following {
			t.Errorf("after unblock a→b = %+v: the friendship must not come back", r)
		}
	})

	t.Run("mutes", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 3)
		a, b, d := u[0], u[1], u[2]
		if _, _, err := s.Follow(c, a, b); err != nil {
			t.Fatal(err)
		}
		if changed, err := s.Mute(c, a, b); err != nil || !changed {
			t.Fatalf("Mute = %v, %v", changed, err)
		}
		if changed, err := s.Mute(c, a, b); err != nil || changed {
			t.Fatalf("second Mute = %v, %v", changed, err)
		}
		if _, err := s.Mute(c, a, d); err != nil {
			t.Fatal(err)
		}
		if r := rel(t, s, c, a, b); !r.Muting || !r.Following {
			t.Errorf("a→b = %+v, want following and muting", r)
		}
		if r := rel(t, s, c, b, a); !r.MutedBy || r.Muting {
			t.Errorf("b→a = %+v, want muted_by", r)
		}
		eq(t, "muted", all(t, c, s.Muted, a, 1), []string{d, b})
		if changed, err := s.Unmute(c, a, b); err != nil || !changed {
			t.Fatalf("Unmute = %v, %v", changed, err)
		}
		if changed, err := s.Unmute(c, a, b); err != nil || changed {
			t.Fatalf("second Unmute = %v, %v", changed, err)
		}
		eq(t, "muted after unmute", all(t, c, s.Muted, a, 10), []string{d})
	})

	t.Run("pagination", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 26)
		star := u[0]
		fans := u[1:]
		for _, f := range fans {
			if _, _, err := s.Follow(c, f, star); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Follow(c, star, f); err != nil {
				t.Fatal(err)
			}
		}
		want := make([]string, len(fans))
		for i, f := range fans {
			want[len(fans)-1-i] = f
		}
		eq(t, "followers newest first", all(t, c, s.Followers, star, 7), want)
		eq(t, "following newest first", all(t, c, s.Following, star, 25), want)
		exact, err := s.Followers(c, star, "", 25)
		if err != nil || len(exact.Edges) != 25 || exact.Next != "" {
			t.Errorf("page of exactly all followers: %d edges, next %q, %v; want 25 and no next", len(exact.Edges), exact.Next, err)
		}
		for i := 1; i < len(exact.Edges); i++ {
			if exact.Edges[i].At.After(exact.Edges[i-1].At) {
				t.Errorf("edge %d is newer than edge %d", i, i-1)
			}
		}

		// A page boundary stays put while edges change around it: new
		// followers (before the cursor) and removals of seen ones do not
		// shift the rest.
		p1, err := s.Followers(c, star, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		late := users(t, s, c, 2)
		for _, l := range late {
			if _, _, err := s.Follow(c, l, star); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Unfollow(c, p1.Edges[3].UserID, star); err != nil {
			t.Fatal(err)
		}
		rest := ids(p1)
		cursor := p1.Next
		for cursor != "" {
			p, err := s.Followers(c, star, cursor, 10)
			if err != nil {
				t.Fatal(err)
			}
			rest = append(rest, ids(p)...)
			cursor = p.Next
		}
		eq(t, "followers across concurrent changes", rest, want)

		for _, bad := range []string{"%%%", "bm90LWEtY3Vyc29y", "eHl6OmFiYw"} {
			if _, err := s.Followers(c, star, bad, 10); !errors.Is(err, graph.ErrBadCursor) {
				t.Errorf("Followers(cursor %q) = %v, want ErrBadCursor", bad, err)
			}
		}
		if got := counts(t, s, c, star); got.Followers != 26 || got.Following != 25 {
			t.Errorf("counts(star) = %+v, want 26 followers, 25 following", got)
		}
	})

	t.Run("suggestions", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 10)
		me, f1, f2, fof1, fof2, followed, fbf, blocked, muted, already := u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9]
		befriend := func(x, y string) {
			t.Helper()
			if _, err := s.SendFriendRequest(c, x, y); err != nil {
				t.Fatal(err)
			}
			if err := s.RespondToFriendRequest(c, y, x, true); err != nil {
				t.Fatal(err)
			}
		}
		follow := func(x, y string) {
			t.Helper()
			if _, _, err := s.Follow(c, x, y); err != nil {
				t.Fatal(err)
			}
		}
		befriend(me, f1)
		befriend(me, f2)
		befriend(f1, fof1)
		befriend(f2, fof1) // fof1: 2 mutual friends
		befriend(f1, fof2) // fof2: 1 mutual friend
		befriend(f1, blocked)
		befriend(f1, muted)
		befriend(f1, already)
		follow(me, already)
		follow(me, followed)
		follow(followed, fbf) // followed by someone I follow
		follow(f1, fbf)       // and by a friend (friends are followed): 2
		if _, err := s.Block(c, blocked, me); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mute(c, me, muted); err != nil {
			t.Fatal(err)
		}
		got, err := s.Suggest(c, me, 10)
		if err != nil {
			t.Fatalf("Suggest: %v", err)
		}
		want := []graph.Suggestion{
			{UserID: fof1, Mutual: 2, Reason: graph.FriendsOfFriends},
			{UserID: fof2, Mutual: 1, Reason: graph.FriendsOfFriends},
			{UserID: fbf, Mutual: 2, Reason: graph.FollowedByFollowing},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Suggest =\n%v\nwant\n%v", got, want)
		}
		if got, err := s.Suggest(c, me, 1); err != nil || len(got) != 1 || got[0].UserID != fof1 {
			t.Errorf("Suggest(limit 1) = %v, %v", got, err)
		}
	})

	t.Run("relationships in one call", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 5)
		me := u[0]
		if _, _, err := s.Follow(c, me, u[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SendFriendRequest(c, u[2], me); err != nil {
			t.Fatal(err)
		}
		if err := s.RespondToFriendRequest(c, me, u[2], true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Block(c, u[3], me); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mute(c, me, u[4]); err != nil {
			t.Fatal(err)
		}
		got, err := s.Relationships(c, me, []string{u[1], u[2], u[3], u[4], "nobody_" + me})
		if err != nil {
			t.Fatalf("Relationships: %v", err)
		}
		if len(got) != 4 {
			t.Errorf("Relationships returned %d users, want 4 (the unknown one left out)", len(got))
		}
		for _, other := range u[1:] {
			want := rel(t, s, c, me, other)
			if got[other] != want {
				t.Errorf("Relationships[%s] = %+v, Relationship = %+v", other, got[other], want)
			}
		}
	})

	t.Run("muted by and popular", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 5)
		star := u[0]
		for _, f := range u[1:] {
			if _, _, err := s.Follow(c, f, star); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Follow(c, u[1], u[2]); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{u[3], u[4]} {
			if _, err := s.Mute(c, m, star); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.MutedBy(c, star)
		sort.Strings(got)
		if err != nil || fmt.Sprint(got) != fmt.Sprint([]string{u[3], u[4]}) {
			t.Errorf("MutedBy = %v, %v; want %v", got, err, []string{u[3], u[4]})
		}
		// Other tests share the engine: look only at this test's users.
		pop, err := s.Popular(c, 4)
		if err != nil || !slices.Contains(pop, star) || slices.Contains(pop, u[2]) {
			t.Errorf("Popular(4) = %v, %v; want %s among them and not %s", pop, err, star, u[2])
		}
		pop, err = s.Popular(c, 5)
		if err != nil || slices.Contains(pop, star) {
			t.Errorf("Popular(5) = %v, %v; want %s not among them", pop, err, star)
		}
	})

	t.Run("edge times and scan of follows", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 5)
		at := time.Date(2026, 2, 3, 4, 5, 6, 789012345, time.UTC)
		when := func(i int) context.Context { return graph.WithTime(c, at.Add(time.Duration(i)*time.Second)) }
		if _, _, err := s.Follow(when(0), u[0], u[1]); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Follow(when(1), u[1], u[0]); err != nil {
			t.Fatal(err)
		}
		if friends, err := s.SendFriendRequest(when(2), u[2], u[3]); err != nil || friends {
			t.Fatalf("SendFriendRequest = %v, %v", friends, err)
		}
		if err := s.RespondToFriendRequest(when(3), u[3], u[2], true); err != nil { // follows both ways
			t.Fatal(err)
		}
		if _, err := s.PutUser(c, u[4], true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Follow(when(4), u[0], u[4]); err != nil { // a request, no follow
			t.Fatal(err)
		}
		p, err := s.Followers(c, u[1], "", 10)
		if err != nil || len(p.Edges) != 1 || !p.Edges[0].At.Equal(at) {
			t.Errorf("Followers(u1) = %+v, %v; want u0 at %s (WithTime)", p, err, at)
		}
		want := map[[2]string]time.Time{
			{u[0], u[1]}: at, {u[1], u[0]}: at.Add(time.Second),
			{u[2], u[3]}: at.Add(3 * time.Second), {u[3], u[2]}: at.Add(3 * time.Second),
		}
		mine := func(id string) bool { return strings.HasPrefix(id, u[0][:strings.LastIndexByte(u[0], '_')]) }
		// Other tests' follows may share the engine (Neo4j): a first scan in
		// big pages counts them, a second one pages through all of them in
		// about 40 pages (2 at a time on a fresh store).
		scan := func(limit int) int {
			t.Helper()
			seen := map[[2]string]bool{}
			got := map[[2]string]time.Time{}
			cursor := ""
			for pages := 0; ; pages++ {
				page, next, err := s.ScanFollows(c, cursor, limit)
				if err != nil {
					t.Fatalf("ScanFollows(limit %d): %v", limit, err)
				}
				if len(page) > limit || pages > 100_000 {
					t.Fatalf("ScanFollows: page of %d, limit %d, %d pages", len(page), limit, pages)
				}
				for _, e := range page {
					k := [2]string{e.From, e.To}
					if seen[k] {
						t.Errorf("ScanFollows(limit %d) listed %v twice", limit, k)
					}
					seen[k] = true
					if mine(e.From) || mine(e.To) {
						got[k] = e.At
					}
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if len(got) != len(want) {
				t.Errorf("ScanFollows(limit %d) listed %v, want %v", limit, got, want)
			}
			for k, w := range want {
				if g, ok := got[k]; !ok || !g.Equal(w) {
					t.Errorf("ScanFollows(limit %d): %v at %v (listed %v), want at %v", limit, k, g, ok, w)
				}
			}
			return len(seen)
		}
		total := scan(1000)
		scan(max(2, total/40))
		if _, _, err := s.ScanFollows(c, "not a cursor!", 10); !errors.Is(err, graph.ErrBadCursor) {
			t.Errorf("ScanFollows(bad cursor) = %v, want ErrBadCursor", err)
		}
	})

	t.Run("delete user", func(t *testing.T) {
		s, c := migrated(t, open)
		u := users(t, s, c, 3)
		a, b, d := u[0], u[1], u[2]
		if _, _, err := s.Follow(c, a, b); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Follow(c, b, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Block(c, d, a); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(c, a); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if err := s.DeleteUser(c, a); err != nil {
			t.Fatalf("second DeleteUser: %v", err)
		}
		if got := counts(t, s, c, b); got != (graph.Counts{}) {
			t.Errorf("counts(b) after deleting a = %+v", got)
		}
		if p, err := s.Blocked(c, d, "", 10); err != nil || len(p.Edges) != 0 {
			t.Errorf("d's blocks after deleting a = %v, %v", ids(p), err)
		}
		if _, err := s.Relationship(c, b, a); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Relationship(deleted) = %v, want ErrNotFound", err)
		}
	})
}

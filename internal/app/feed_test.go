package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
)

// feedFlow drives the fan-out and the timelines through the public API on a
// server whose fan-out threshold is 1 follower: ana (2 followers) is a
// celebrity merged at read time, dan (1 follower) is fanned out through the
// shard workflows. It covers visibility, reposts, deletes and the
// asynchronous removal of an unfollowed author's entries.
func feedFlow(t *testing.T, base string, readMail mailReader) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	posts := postv1connect.NewPostServiceClient(http.DefaultClient, base)
	feed := feedv1connect.NewFeedServiceClient(http.DefaultClient, base)
	ana := register(ctx, t, base, readMail, "ana")
	ben := register(ctx, t, base, readMail, "ben")
	cat := register(ctx, t, base, readMail, "cat")
	dan := register(ctx, t, base, readMail, "dan")
	follow := func(who, whom member) {
		t.Helper()
		if _, err := users.Follow(ctx, by(who, &userv1.FollowRequest{UserId: whom.id})); err != nil {
			t.Fatalf("Follow: %v", err)
		}
	}
	follow(ben, ana)
	follow(cat, ana)
	follow(ben, dan)
	follow(cat, ben)
	create := func(m member, text string, vis postv1.Visibility) string {
		t.Helper()
		res, err := posts.CreatePost(ctx, by(m, &postv1.CreatePostRequest{Text: text, Visibility: vis}))
		if err != nil {
			t.Fatalf("CreatePost: %v", err)
		}
		return res.Msg.GetPost().GetPostId()
	}
	// home lists m's home timeline (first page) as post IDs, reposts marked.
	home := func(m member) []string {
		t.Helper()
		res, err := feed.GetHomeTimeline(ctx, by(m, &feedv1.GetHomeTimelineRequest{PageSize: 50}))
		if err != nil {
			t.Fatalf("GetHomeTimeline: %v", err)
		}
		var out []string
		for _, it := range res.Msg.GetItems() {
			id := it.GetPost().GetPostId()
			if it.GetRepostedBy() != nil {
				id += "/rt:" + it.GetRepostedBy().GetUserId()
			}
			out = append(out, id)
		}
		return out
	}
	has := func(ids []string, id string) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}

	p1 := create(dan, "fanned out to ben", postv1.Visibility_VISIBILITY_PUBLIC)
	p2 := create(ana, "celebrity post", postv1.Visibility_VISIBILITY_PUBLIC)
	p3 := create(ana, "for friends only", postv1.Visibility_VISIBILITY_FRIENDS)
	// The celebrity's post is there at once (read-time merge), the friends-only one never.
	if got := home(ben); !has(got, p2) || has(got, p3) {
		t.Errorf("ben's home right after ana posted = %v, want %s (merged) and not %s", got, p2, p3)
	}
	took := waitFor("dan's post in ben's home timeline", func() bool { return has(home(ben), p1) })
	t.Logf("fan-out visible after %v", took)
	if !has(home(dan), p1) {
		t.Errorf("dan's own post is missing from dan's home timeline")
	}
	if has(home(cat), p1) {
		t.Errorf("cat does not follow dan but got dan's post")
	}

	// A repost reaches the reposter's followers, attributed to the reposter.
	if _, err := posts.Repost(ctx, by(ben, &postv1.RepostRequest{PostId: p1})); err != nil {
		t.Fatal(err)
	}
	waitFor("ben's repost in cat's home timeline", func() bool { return has(home(cat), p1+"/rt:"+ben.id) })

	// Deleting a post takes it out of timelines.
	if _, err := posts.DeletePost(ctx, by(dan, &postv1.DeletePostRequest{PostId: p1})); err != nil {
		t.Fatal(err)
	}
	if got := home(ben); has(got, p1) {
		t.Errorf("deleted post still in ben's home timeline: %v", got)
	}
	if got := home(cat); has(got, p1+"/rt:"+ben.id) {
		t.Errorf("deleted post still reposted in cat's home timeline: %v", got)
	}

	// Unfollowing removes the author's entries, asynchronously.
	p4 := create(dan, "before the unfollow", postv1.Visibility_VISIBILITY_PUBLIC)
	waitFor("dan's second post in ben's home timeline", func() bool { return has(home(ben), p4) })
	if _, err := users.Unfollow(ctx, by(ben, &userv1.UnfollowRequest{UserId: dan.id})); err != nil {
		t.Fatal(err)
	}
	waitFor("dan's post to leave ben's home timeline", func() bool { return !has(home(ben), p4) })

	// User timelines: anonymous callers see public posts only.
	ut, err := feed.GetUserTimeline(ctx, by(member{}, &feedv1.GetUserTimelineRequest{UserId: ana.id}))
	if err != nil || len(ut.Msg.GetItems()) != 1 || ut.Msg.GetItems()[0].GetPost().GetPostId() != p2 {
		t.Errorf("anonymous GetUserTimeline(ana) = %v, %v; want only %s", ut, err, p2)
	}
	if _, err := feed.GetHomeTimeline(ctx, by(member{}, &feedv1.GetHomeTimelineRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("anonymous GetHomeTimeline = %v", err)
	}
	if _, err := feed.GetHomeTimeline(ctx, by(ben, &feedv1.GetHomeTimelineRequest{PageToken: "garbage"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("GetHomeTimeline with a bad token = %v, want invalid_argument", err)
	}
}

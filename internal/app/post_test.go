package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
)

// postFlow drives PostService with real tokens: create with hashtags and
// mentions, idempotent retry, visibility for anonymous / follower /
// stranger, likes, comments, counts, and author-only edits and deletes.
func postFlow(t *testing.T, base string, readMail mailReader) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	posts := postv1connect.NewPostServiceClient(http.DefaultClient, base)
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	ana := register(ctx, t, base, readMail, "ana")
	ben := register(ctx, t, base, readMail, "ben")
	eve := register(ctx, t, base, readMail, "eve")
	if _, err := users.Follow(ctx, by(ben, &userv1.FollowRequest{UserId: ana.id})); err != nil {
		t.Fatal(err)
	}
	if _, err := posts.CreatePost(ctx, by(member{}, &postv1.CreatePostRequest{Text: "anon"})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("anonymous CreatePost = %v", err)
	}
	req := &postv1.CreatePostRequest{Text: "Hello #Ejazz, @" + ben.handle + "!", IdempotencyKey: "first-post"}
	pub, err := posts.CreatePost(ctx, by(ana, req))
	if err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	p := pub.Msg.GetPost()
	if len(p.GetHashtags()) != 1 || p.GetHashtags()[0] != "ejazz" || len(p.GetMentions()) != 1 || p.GetMentions()[0] != ben.handle {
		t.Errorf("parsed post = %v", p)
	}
	again, err := posts.CreatePost(ctx, by(ana, req))
	if err != nil || again.Msg.GetPost().GetPostId() != p.GetPostId() {
		t.Fatalf("retried CreatePost = %v, %v; want post %s", again, err, p.GetPostId())
	}
	fo, err := posts.CreatePost(ctx, by(ana, &postv1.CreatePostRequest{Text: "followers only", Visibility: postv1.Visibility_VISIBILITY_FOLLOWERS}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := posts.GetPost(ctx, by(member{}, &postv1.GetPostRequest{PostId: p.GetPostId()})); err != nil {
		t.Errorf("anonymous GetPost(public) = %v", err)
	}
	if _, err := posts.GetPost(ctx, by(member{}, &postv1.GetPostRequest{PostId: fo.Msg.GetPost().GetPostId()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("anonymous GetPost(followers) = %v, want unauthenticated", err)
	}
	if _, err := posts.GetPost(ctx, by(eve, &postv1.GetPostRequest{PostId: fo.Msg.GetPost().GetPostId()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("stranger GetPost(followers) = %v, want not_found", err)
	}
	if _, err := posts.GetPost(ctx, by(ben, &postv1.GetPostRequest{PostId: fo.Msg.GetPost().GetPostId()})); err != nil {
		t.Errorf("follower GetPost(followers) = %v", err)
	}
	for i := 0; i < 2; i++ {
		if _, err := posts.LikePost(ctx, by(ben, &postv1.LikePostRequest{PostId: p.GetPostId()})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := posts.CreateComment(ctx, by(eve, &postv1.CreateCommentRequest{PostId: p.GetPostId(), Text: "welcome"})); err != nil {
		t.Fatal(err)
	}
	got, err := posts.GetPost(ctx, by(ben, &postv1.GetPostRequest{PostId: p.GetPostId()}))
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Msg.GetPost(); g.GetLikeCount() != 1 || g.GetCommentCount() != 1 || !g.GetViewerHasLiked() || g.GetAuthor().GetHandle() != ana.handle {
		t.Errorf("hydrated post = %v", g)
	}
	byTag, err := posts.ListPostsByHashtag(ctx, by(eve, &postv1.ListPostsByHashtagRequest{Hashtag: "#ejazz"}))
	if err != nil || len(byTag.Msg.GetPosts()) != 1 {
		t.Errorf("ListPostsByHashtag = %v, %v", byTag, err)
	}
	if _, err := posts.DeletePost(ctx, by(ben, &postv1.DeletePostRequest{PostId: p.GetPostId()})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("DeletePost by another user = %v, want permission_denied", err)
	}
	prof, err := users.GetProfile(ctx, by(member{}, &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ana.id}}))
	if err != nil || prof.Msg.GetProfile().GetPostCount() != 2 {
		t.Errorf("ana's post_count = %v, %v; want 2", prof, err)
	}
	if _, err := posts.DeletePost(ctx, by(ana, &postv1.DeletePostRequest{PostId: p.GetPostId()})); err != nil {
		t.Fatalf("DeletePost: %v", err)
	}
	if _, err := posts.GetPost(ctx, by(ben, &postv1.GetPostRequest{PostId: p.GetPostId()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetPost after delete = %v, want not_found", err)
	}
}

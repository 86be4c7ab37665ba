package postapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	graphsqlite "github.com/ejazz/ejazz/internal/graph/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/post/postapi"
	postsqlite "github.com/ejazz/ejazz/internal/post/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	profilesqlite "github.com/ejazz/ejazz/internal/profile/sqlite"
	"github.com/ejazz/ejazz/internal/storetest"
)

const testUserHeader = "X-Test-User"

type env struct {
	client postv1connect.PostServiceClient
	graph  graph.Store
	posts  post.Store
	events *event.Recorder
}

// The cast: a public author and a private one, and viewers of every kind.
const (
	author   = "u-author"
	private  = "u-private"
	stranger = "u-stranger"
	follower = "u-follower"
	friend   = "u-friend"
	blocked  = "u-blocked"
)

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.SQLite(t)
	profiles, g, posts := profilesqlite.New(db), graphsqlite.New(db), postsqlite.New(db)
	for _, s := range []interface{ Migrate(context.Context) error }{profiles, g, posts} {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{author, private, stranger, follower, friend, blocked} {
		if err := profiles.Create(ctx, profile.Profile{UserID: u, Handle: strings.TrimPrefix(u, "u-"), DisplayName: u, IsPrivate: u == private, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.PutUser(ctx, u, u == private); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{author, private} {
		if _, _, err := g.Follow(ctx, follower, a); err != nil {
			t.Fatal(err)
		}
		if err := g.ApproveFollowRequest(ctx, a, follower); err != nil && a == private {
			t.Fatal(err)
		}
		if _, err := g.SendFriendRequest(ctx, friend, a); err != nil {
			t.Fatal(err)
		}
		if err := g.RespondToFriendRequest(ctx, a, friend, true); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Block(ctx, a, blocked); err != nil {
			t.Fatal(err)
		}
	}
	events := &event.Recorder{}
	svc := &postapi.Service{Posts: posts, Graph: g, Profiles: profiles, Events: events, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	mux.Handle(postv1connect.NewPostServiceHandler(svc))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(testUserHeader); id != "" {
			r = r.WithContext(auth.WithCaller(r.Context(), auth.Caller{UserID: id}))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &env{client: postv1connect.NewPostServiceClient(http.DefaultClient, srv.URL), graph: g, posts: posts, events: events}
}

func as[T any](userID string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if userID != "" {
		req.Header().Set(testUserHeader, userID)
	}
	return req
}

func wantCode(t *testing.T, err error, code connect.Code, field string) {
	t.Helper()
	if connect.CodeOf(err) != code || err == nil {
		t.Fatalf("got %v, want %v", err, code)
	}
	if field != "" && !strings.Contains(err.Error(), field) {
		t.Fatalf("error %q does not name %q", err, field)
	}
}

func (e *env) create(t *testing.T, by string, req *postv1.CreatePostRequest) *postv1.Post {
	t.Helper()
	res, err := e.client.CreatePost(context.Background(), as(by, req))
	if err != nil {
		t.Fatalf("CreatePost: %v", err)
	}
	return res.Msg.GetPost()
}

func TestVisibilityMatrix(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	viewers := []string{"", stranger, follower, friend, blocked}
	// Who sees what, besides the author (who always does).
	want := map[string]map[postv1.Visibility][]string{
		author: {
			postv1.Visibility_VISIBILITY_PUBLIC:    {"", stranger, follower, friend},
			postv1.Visibility_VISIBILITY_FOLLOWERS: {follower, friend},
			postv1.Visibility_VISIBILITY_FRIENDS:   {friend},
			postv1.Visibility_VISIBILITY_ONLY_ME:   {},
		},
		private: {
			postv1.Visibility_VISIBILITY_PUBLIC:    {follower, friend},
			postv1.Visibility_VISIBILITY_FOLLOWERS: {follower, friend},
			postv1.Visibility_VISIBILITY_FRIENDS:   {friend},
			postv1.Visibility_VISIBILITY_ONLY_ME:   {},
		},
	}
	for a, byVis := range want {
		for vis, allowed := range byVis {
			p := e.create(t, a, &postv1.CreatePostRequest{Text: "hello", Visibility: vis})
			for _, v := range append(viewers, a) {
				ok := v == a
				for _, x := range allowed {
					ok = ok || x == v
				}
				name := fmt.Sprintf("%s/%s/viewer %q", a, vis, v)
				res, err := e.client.GetPost(ctx, as(v, &postv1.GetPostRequest{PostId: p.GetPostId()}))
				_, cerr := e.client.ListComments(ctx, as(v, &postv1.ListCommentsRequest{PostId: p.GetPostId()}))
				switch {
				case ok && (err != nil || res.Msg.GetPost().GetPostId() != p.GetPostId() || cerr != nil):
					t.Errorf("%s: GetPost = %v, ListComments = %v; want visible", name, err, cerr)
				case !ok && v == "" && (connect.CodeOf(err) != connect.CodeUnauthenticated || connect.CodeOf(cerr) != connect.CodeUnauthenticated):
					t.Errorf("%s: GetPost = %v, ListComments = %v; want unauthenticated", name, err, cerr)
				case !ok && v != "" && (connect.CodeOf(err) != connect.CodeNotFound || connect.CodeOf(cerr) != connect.CodeNotFound):
					t.Errorf("%s: GetPost = %v, ListComments = %v; want not_found", name, err, cerr)
				}
				if v != "" {
					_, lerr := e.client.LikePost(ctx, as(v, &postv1.LikePostRequest{PostId: p.GetPostId()}))
					if ok != (lerr == nil) {
						t.Errorf("%s: LikePost = %v, visible %v", name, lerr, ok)
					}
				}
			}
		}
	}
}

func TestCreatePostValidation(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	hidden := e.create(t, author, &postv1.CreatePostRequest{Text: "secret", Visibility: postv1.Visibility_VISIBILITY_ONLY_ME})
	for _, tc := range []struct {
		name  string
		req   *postv1.CreatePostRequest
		code  connect.Code
		field string
	}{
		{"empty", &postv1.CreatePostRequest{Text: "  "}, connect.CodeInvalidArgument, "text"},
		{"too long", &postv1.CreatePostRequest{Text: strings.Repeat("é", postapi.MaxTextRunes+1)}, connect.CodeInvalidArgument, "text"},
		{"too many media", &postv1.CreatePostRequest{Text: "x", MediaIds: []string{"a", "b", "c", "d", "e"}}, connect.CodeInvalidArgument, "media_ids"},
		{"unknown media", &postv1.CreatePostRequest{Text: "x", MediaIds: []string{"m-1"}}, connect.CodeNotFound, "media_ids"},
		{"bad visibility", &postv1.CreatePostRequest{Text: "x", Visibility: 9}, connect.CodeInvalidArgument, "visibility"},
		{"long warning", &postv1.CreatePostRequest{Text: "x", ContentWarning: strings.Repeat("w", 201)}, connect.CodeInvalidArgument, "content_warning"},
		{"invisible quote", &postv1.CreatePostRequest{Text: "x", QuotePostId: hidden.GetPostId()}, connect.CodeNotFound, "quote_post_id"},
		{"unknown quote", &postv1.CreatePostRequest{Text: "x", QuotePostId: "nope"}, connect.CodeNotFound, "quote_post_id"},
	} {
		_, err := e.client.CreatePost(ctx, as(stranger, tc.req))
		if connect.CodeOf(err) != tc.code || !strings.Contains(fmt.Sprint(err), tc.field) {
			t.Errorf("%s: CreatePost = %v, want %v naming %s", tc.name, err, tc.code, tc.field)
		}
	}
	_, err := e.client.CreatePost(ctx, as("", &postv1.CreatePostRequest{Text: "x"}))
	wantCode(t, err, connect.CodeUnauthenticated, "")
	// Nothing half-written: the stranger has no posts.
	if n, err := e.posts.PostCounts(ctx, []string{stranger}); err != nil || n[stranger] != 0 {
		t.Errorf("refused posts left rows: %v, %v", n, err)
	}
	// A 5,000-character post of multi-byte characters is fine.
	e.create(t, stranger, &postv1.CreatePostRequest{Text: strings.Repeat("ж", postapi.MaxTextRunes)})
}

func TestCreateParsesAndIsIdempotent(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	req := &postv1.CreatePostRequest{Text: "Hi @friend and @nobody_here #Go #go #Ejazz", IdempotencyKey: "k1"}
	p := e.create(t, author, req)
	if fmt.Sprint(p.GetHashtags()) != "[go ejazz]" || fmt.Sprint(p.GetMentions()) != "[friend]" || p.GetAuthor().GetHandle() != "author" {
		t.Errorf("parsed = tags %v, mentions %v, author %v", p.GetHashtags(), p.GetMentions(), p.GetAuthor())
	}
	again := e.create(t, author, req)
	if again.GetPostId() != p.GetPostId() {
		t.Errorf("retry with the same key made post %s, want %s", again.GetPostId(), p.GetPostId())
	}
	res, err := e.client.ListPostsByHashtag(ctx, as(stranger, &postv1.ListPostsByHashtagRequest{Hashtag: "#GO"}))
	if err != nil || len(res.Msg.GetPosts()) != 1 {
		t.Fatalf("ListPostsByHashtag = %v, %v", res, err)
	}
	_, err = e.client.ListPostsByHashtag(ctx, as(stranger, &postv1.ListPostsByHashtagRequest{Hashtag: "# "}))
	wantCode(t, err, connect.CodeInvalidArgument, "hashtag")
	// The retry publishes the same events again (in case the first attempt
	// could not), with the same IDs, so consumers can drop the copies.
	want := fmt.Sprint([]string{"post " + author + "→", "mention " + author + "→" + friend})
	var got, ids []string
	for _, ev := range e.events.Events() {
		got = append(got, string(ev.Kind)+" "+ev.ActorID+"→"+ev.SubjectID)
		ids = append(ids, ev.ID)
	}
	if len(got) != 4 || fmt.Sprint(got[:2]) != want || fmt.Sprint(got[2:]) != want || ids[0] != ids[2] || ids[1] != ids[3] {
		t.Errorf("events = %v (ids %v), want %v twice with the same IDs", got, ids, want)
	}
}

func TestEditDeleteAndPermissions(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	p := e.create(t, author, &postv1.CreatePostRequest{Text: "v1 #one"})
	_, err := e.client.EditPost(ctx, as(friend, &postv1.EditPostRequest{PostId: p.GetPostId(), Text: "hacked"}))
	wantCode(t, err, connect.CodePermissionDenied, "")
	cw := "cw"
	res, err := e.client.EditPost(ctx, as(author, &postv1.EditPostRequest{PostId: p.GetPostId(), Text: "v2 #two", ContentWarning: &cw}))
	if err != nil || res.Msg.GetPost().GetEditedAt() == nil || fmt.Sprint(res.Msg.GetPost().GetHashtags()) != "[two]" || res.Msg.GetPost().GetContentWarning() != "cw" {
		t.Fatalf("EditPost = %v, %v", res, err)
	}
	edits, err := e.client.ListPostEdits(ctx, as("", &postv1.ListPostEditsRequest{PostId: p.GetPostId()}))
	if err != nil || len(edits.Msg.GetEdits()) != 2 || edits.Msg.GetEdits()[0].GetText() != "v2 #two" || edits.Msg.GetEdits()[1].GetText() != "v1 #one" {
		t.Fatalf("ListPostEdits = %v, %v", edits, err)
	}
	one, err := e.client.ListPostEdits(ctx, as("", &postv1.ListPostEditsRequest{PostId: p.GetPostId(), PageSize: 1}))
	if err != nil || len(one.Msg.GetEdits()) != 1 || one.Msg.GetNextPageToken() == "" {
		t.Fatalf("ListPostEdits(1) = %v, %v", one, err)
	}
	two, err := e.client.ListPostEdits(ctx, as("", &postv1.ListPostEditsRequest{PostId: p.GetPostId(), PageSize: 1, PageToken: one.Msg.GetNextPageToken()}))
	if err != nil || len(two.Msg.GetEdits()) != 1 || two.Msg.GetEdits()[0].GetText() != "v1 #one" {
		t.Fatalf("ListPostEdits page 2 = %v, %v", two, err)
	}

	// Comments: the commenter and the post's author may delete, others not.
	c1, err := e.client.CreateComment(ctx, as(friend, &postv1.CreateCommentRequest{PostId: p.GetPostId(), Text: "nice"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreateComment(ctx, as(stranger, &postv1.CreateCommentRequest{PostId: p.GetPostId(), Text: "re", ParentCommentId: c1.Msg.GetComment().GetCommentId()}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreateComment(ctx, as(stranger, &postv1.CreateCommentRequest{PostId: p.GetPostId(), Text: "  "}))
	wantCode(t, err, connect.CodeInvalidArgument, "text")
	_, err = e.client.CreateComment(ctx, as(stranger, &postv1.CreateCommentRequest{PostId: p.GetPostId(), Text: "x", ParentCommentId: "nope"}))
	wantCode(t, err, connect.CodeNotFound, "parent_comment_id")
	_, err = e.client.DeleteComment(ctx, as(stranger, &postv1.DeleteCommentRequest{CommentId: c1.Msg.GetComment().GetCommentId()}))
	wantCode(t, err, connect.CodePermissionDenied, "")
	if _, err := e.client.DeleteComment(ctx, as(author, &postv1.DeleteCommentRequest{CommentId: c1.Msg.GetComment().GetCommentId()})); err != nil {
		t.Fatalf("post author's DeleteComment: %v", err)
	}
	got, err := e.client.GetPost(ctx, as(author, &postv1.GetPostRequest{PostId: p.GetPostId()}))
	if err != nil || got.Msg.GetPost().GetCommentCount() != 0 {
		t.Errorf("comment_count after deleting the thread = %v, %v", got, err)
	}

	_, err = e.client.DeletePost(ctx, as(follower, &postv1.DeletePostRequest{PostId: p.GetPostId()}))
	wantCode(t, err, connect.CodePermissionDenied, "")
	for i := 0; i < 2; i++ {
		if _, err := e.client.DeletePost(ctx, as(author, &postv1.DeletePostRequest{PostId: p.GetPostId()})); err != nil {
			t.Fatalf("DeletePost #%d: %v", i+1, err)
		}
	}
	_, err = e.client.GetPost(ctx, as(author, &postv1.GetPostRequest{PostId: p.GetPostId()}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = e.client.LikePost(ctx, as(friend, &postv1.LikePostRequest{PostId: p.GetPostId()}))
	wantCode(t, err, connect.CodeNotFound, "")
}

func TestLikesAndRepostsCountExactly(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	p := e.create(t, author, &postv1.CreatePostRequest{Text: "hot"})
	var wg sync.WaitGroup
	for _, v := range []string{stranger, follower, friend, author} {
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.client.LikePost(ctx, as(v, &postv1.LikePostRequest{PostId: p.GetPostId()})); err != nil {
					t.Errorf("LikePost: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	if _, err := e.client.Repost(ctx, as(friend, &postv1.RepostRequest{PostId: p.GetPostId()})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UnlikePost(ctx, as(stranger, &postv1.UnlikePostRequest{PostId: p.GetPostId()})); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetPost(ctx, as(friend, &postv1.GetPostRequest{PostId: p.GetPostId()}))
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Msg.GetPost(); g.GetLikeCount() != 3 || g.GetRepostCount() != 1 || !g.GetViewerHasLiked() || !g.GetViewerHasReposted() {
		t.Errorf("post = likes %d, reposts %d, liked %v, reposted %v; want 3, 1, true, true", g.GetLikeCount(), g.GetRepostCount(), g.GetViewerHasLiked(), g.GetViewerHasReposted())
	}
	likes, err := e.client.ListLikes(ctx, as(follower, &postv1.ListLikesRequest{PostId: p.GetPostId()}))
	if err != nil || len(likes.Msg.GetUsers()) != 3 {
		t.Errorf("ListLikes = %v, %v", likes, err)
	}
	fo := e.create(t, author, &postv1.CreatePostRequest{Text: "followers", Visibility: postv1.Visibility_VISIBILITY_FOLLOWERS})
	_, err = e.client.Repost(ctx, as(follower, &postv1.RepostRequest{PostId: fo.GetPostId()}))
	wantCode(t, err, connect.CodeFailedPrecondition, "public")
	n := 0
	for _, ev := range e.events.Events() {
		if ev.Kind == event.Liked {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d like events for 4 likers (each liking 3 times), want 4", n)
	}
}

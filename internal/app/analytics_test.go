package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ejazz/ejazz/analytics/backfill"
	analyticsv1 "github.com/ejazz/ejazz/gen/ejazz/analytics/v1"
	"github.com/ejazz/ejazz/gen/ejazz/analytics/v1/analyticsv1connect"
	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/account"
	accountpg "github.com/ejazz/ejazz/internal/account/postgres"
	accountsqlite "github.com/ejazz/ejazz/internal/account/sqlite"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// analyticsFlow drives the platform through the public API (sign-ups,
// sign-ins, a public and a private post, likes, a comment, a repost,
// follows, an unfollow, timeline reads), then checks every AnalyticsService
// view, its roles and its bad input, GetTrending, and the /analytics
// dashboard's charts. grant gives a user the analyst role in the account
// store (as `ejazz admin grant-role` does); backfill runs `ejazz analytics
// backfill` (app.Backfill) on the platform's stores, which must leave every
// view as the live events made it (exactDAU: the engines are not shared
// with other tests, so even daily active users must not move).
func analyticsFlow(t *testing.T, base string, readMail mailReader, grant func(t *testing.T, userID string), backfill func(t *testing.T), exactDAU bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	posts := postv1connect.NewPostServiceClient(http.DefaultClient, base)
	feed := feedv1connect.NewFeedServiceClient(http.DefaultClient, base)
	an := analyticsv1connect.NewAnalyticsServiceClient(http.DefaultClient, base)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	code := connect.CodeOf

	ana := register(ctx, t, base, readMail, "ana")
	ben := register(ctx, t, base, readMail, "ben")
	cat := register(ctx, t, base, readMail, "cat")
	grant(t, ana.id)
	in, err := authv1connect.NewAuthServiceClient(http.DefaultClient, base).SignIn(ctx, connect.NewRequest(&authv1.SignInRequest{Identifier: ana.handle, Password: "correct horse battery"}))
	must("SignIn analyst", err)
	ana.token = in.Msg.GetAccessToken() // now carrying the role

	tag := strings.ReplaceAll(ben.handle, "_", "")
	pub, err := posts.CreatePost(ctx, by(ben, &postv1.CreatePostRequest{Text: "hello #" + tag + " #ejazzdemo", Visibility: postv1.Visibility_VISIBILITY_PUBLIC}))
	must("CreatePost public", err)
	priv, err := posts.CreatePost(ctx, by(ben, &postv1.CreatePostRequest{Text: "secret #hidden" + tag, Visibility: postv1.Visibility_VISIBILITY_ONLY_ME}))
	must("CreatePost private", err)
	pid := pub.Msg.GetPost().GetPostId()
	_, err = posts.LikePost(ctx, by(cat, &postv1.LikePostRequest{PostId: pid}))
	must("LikePost cat", err)
	_, err = posts.LikePost(ctx, by(ana, &postv1.LikePostRequest{PostId: pid}))
	must("LikePost ana", err)
	_, err = posts.UnlikePost(ctx, by(ana, &postv1.UnlikePostRequest{PostId: pid}))
	must("UnlikePost ana", err)
	_, err = posts.CreateComment(ctx, by(cat, &postv1.CreateCommentRequest{PostId: pid, Text: "nice"}))
	must("CreateComment", err)
	_, err = posts.Repost(ctx, by(cat, &postv1.RepostRequest{PostId: pid}))
	must("Repost", err)
	_, err = posts.LikePost(ctx, by(ben, &postv1.LikePostRequest{PostId: priv.Msg.GetPost().GetPostId()}))
	must("LikePost private", err)
	for _, m := range []member{ana, cat} {
		_, err = users.Follow(ctx, by(m, &userv1.FollowRequest{UserId: ben.id}))
		must("Follow", err)
	}
	_, err = users.Unfollow(ctx, by(cat, &userv1.UnfollowRequest{UserId: ben.id}))
	must("Unfollow", err)
	_, err = feed.GetHomeTimeline(ctx, by(cat, &feedv1.GetHomeTimelineRequest{}))
	must("GetHomeTimeline", err)

	// Ingestion is asynchronous (batches of up to a second): wait for it.
	var eng *analyticsv1.GetPostEngagementResponse
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := an.GetPostEngagement(ctx, by(ben, &analyticsv1.GetPostEngagementRequest{PostId: pid}))
		must("GetPostEngagement (author)", err)
		eng = res.Msg
		if eng.GetLikes() == 1 && eng.GetComments() == 1 && eng.GetReposts() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("engagement of ben's post = %v, want 1 like, 1 comment, 1 repost", eng)
		}
		time.Sleep(200 * time.Millisecond)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if n := len(eng.GetByDay()); n == 0 || !eng.GetByDay()[n-1].GetDay().AsTime().Equal(today) || eng.GetByDay()[n-1].GetLikes() != 1 {
		t.Errorf("by_day = %v, want today with 1 like", eng.GetByDay())
	}
	if _, err := an.GetPostEngagement(ctx, by(ana, &analyticsv1.GetPostEngagementRequest{PostId: pid})); err != nil {
		t.Errorf("analyst GetPostEngagement = %v", err)
	}
	if _, err := an.GetPostEngagement(ctx, by(cat, &analyticsv1.GetPostEngagementRequest{PostId: pid})); code(err) != connect.CodePermissionDenied {
		t.Errorf("another user's GetPostEngagement = %v, want permission_denied", err)
	}
	if _, err := an.GetPostEngagement(ctx, by(ana, &analyticsv1.GetPostEngagementRequest{PostId: "0190aaaa-0000-7000-8000-000000000000"})); code(err) != connect.CodeNotFound {
		t.Errorf("unknown post = %v, want not_found", err)
	}
	if _, err := an.GetPostEngagement(ctx, by(member{}, &analyticsv1.GetPostEngagementRequest{PostId: pid})); code(err) != connect.CodeUnauthenticated {
		t.Errorf("anonymous = %v, want unauthenticated", err)
	}

	from := timestamppb.New(today.AddDate(0, 0, -2))
	for {
		fg, err := an.GetFollowerGrowth(ctx, by(ben, &analyticsv1.GetFollowerGrowthRequest{UserId: ben.id, From: from}))
		must("GetFollowerGrowth", err)
		pts := fg.Msg.GetPoints()
		if len(pts) == 3 && pts[2].GetGained() == 2 && pts[2].GetLost() == 1 && pts[2].GetFollowers() == 1 && pts[0].GetGained() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ben's follower growth = %v, want 3 days ending with +2 −1 = 1", pts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := an.GetFollowerGrowth(ctx, by(cat, &analyticsv1.GetFollowerGrowthRequest{UserId: ben.id, From: from})); code(err) != connect.CodePermissionDenied {
		t.Errorf("cat reading ben's growth = %v, want permission_denied", err)
	}
	if _, err := an.GetFollowerGrowth(ctx, by(ana, &analyticsv1.GetFollowerGrowthRequest{UserId: "nobody-" + ben.id[:8], From: from})); code(err) != connect.CodeNotFound {
		t.Errorf("unknown user = %v, want not_found", err)
	}

	dau, err := an.GetDailyActiveUsers(ctx, by(ana, &analyticsv1.GetDailyActiveUsersRequest{From: from}))
	must("GetDailyActiveUsers", err)
	if p := dau.Msg.GetPoints(); len(p) != 3 || p[2].GetUsers() < 3 {
		t.Errorf("DAU = %v, want 3 days, today ≥ 3 users", p)
	}
	for _, tc := range []struct {
		what string
		m    member
		req  *analyticsv1.GetDailyActiveUsersRequest
		want connect.Code
	}{
		{"non-analyst", ben, &analyticsv1.GetDailyActiveUsersRequest{From: from}, connect.CodePermissionDenied},
		{"reversed range", ana, &analyticsv1.GetDailyActiveUsersRequest{From: timestamppb.New(today), To: from}, connect.CodeInvalidArgument},
		{"range over 366 days", ana, &analyticsv1.GetDailyActiveUsersRequest{From: timestamppb.New(today.AddDate(-2, 0, 0))}, connect.CodeInvalidArgument},
		{"no from", ana, &analyticsv1.GetDailyActiveUsersRequest{}, connect.CodeInvalidArgument},
	} {
		if _, err := an.GetDailyActiveUsers(ctx, by(tc.m, tc.req)); code(err) != tc.want {
			t.Errorf("%s: GetDailyActiveUsers = %v, want %v", tc.what, err, tc.want)
		}
	}
	up, err := an.GetMediaUploads(ctx, by(ana, &analyticsv1.GetMediaUploadsRequest{From: from}))
	if err != nil || len(up.Msg.GetPoints()) != 3 {
		t.Errorf("GetMediaUploads = %v, %v; want 3 days", up, err)
	}
	if _, err := an.GetMediaUploads(ctx, by(cat, &analyticsv1.GetMediaUploadsRequest{From: from})); code(err) != connect.CodePermissionDenied {
		t.Errorf("non-analyst GetMediaUploads = %v", err)
	}
	top, err := an.GetTopPosts(ctx, by(ana, &analyticsv1.GetTopPostsRequest{Since: timestamppb.New(time.Now().Add(-time.Hour)), Limit: 100}))
	must("GetTopPosts", err)
	found := false
	for _, p := range top.Msg.GetPosts() {
		if p.GetPostId() == pid {
			found = p.GetLikes() == 1 && p.GetComments() == 1 && p.GetReposts() == 1 && p.GetScore() > 0
		}
	}
	if !found {
		t.Errorf("GetTopPosts = %v, want ben's post with 1/1/1", top.Msg.GetPosts())
	}
	if _, err := an.GetTopPosts(ctx, by(ana, &analyticsv1.GetTopPostsRequest{Since: timestamppb.New(time.Now().Add(time.Hour))})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("GetTopPosts(future) = %v, want invalid_argument", err)
	}
	if _, err := an.GetTopPosts(ctx, by(ana, &analyticsv1.GetTopPostsRequest{Since: from, Limit: 101})); code(err) != connect.CodeInvalidArgument {
		t.Errorf("GetTopPosts(limit 101) = %v, want invalid_argument", err)
	}
	if _, err := an.GetTopPosts(ctx, by(cat, &analyticsv1.GetTopPostsRequest{Since: from})); code(err) != connect.CodePermissionDenied {
		t.Errorf("non-analyst GetTopPosts = %v", err)
	}

	// Trending: ben's public post and its hashtag; never the private one.
	if _, err := feed.GetTrending(ctx, by(member{}, &feedv1.GetTrendingRequest{})); code(err) != connect.CodeUnauthenticated {
		t.Errorf("anonymous GetTrending = %v", err)
	}
	tr, err := feed.GetTrending(ctx, by(cat, &feedv1.GetTrendingRequest{PageSize: 100}))
	must("GetTrending", err)
	var ids, tags []string
	for _, p := range tr.Msg.GetPosts() {
		ids = append(ids, p.GetPostId())
		if p.GetVisibility() != postv1.Visibility_VISIBILITY_PUBLIC {
			t.Errorf("trending shows a %v post", p.GetVisibility())
		}
	}
	for _, h := range tr.Msg.GetHashtags() {
		tags = append(tags, h.GetHashtag())
		if h.GetHashtag() == tag && h.GetPostCount() != 1 {
			t.Errorf("#%s counts %d posts, want 1", tag, h.GetPostCount())
		}
	}
	if !slices.Contains(ids, pid) || slices.Contains(ids, priv.Msg.GetPost().GetPostId()) {
		t.Errorf("trending posts = %v, want %s and not the private one", ids, pid)
	}
	if !slices.Contains(tags, tag) || slices.Contains(tags, "hidden"+tag) {
		t.Errorf("trending hashtags = %v, want %s and not the private post's", tags, tag)
	}
	if i := slices.Index(ids, pid); i >= 0 && (tr.Msg.GetPosts()[i].GetLikeCount() != 1 || tr.Msg.GetPosts()[i].GetAuthor().GetUserId() != ben.id) {
		t.Errorf("trending post not hydrated: %v", tr.Msg.GetPosts()[i])
	}

	backfillFlow(t, base, ana, ben, pid, backfill, exactDAU)
	dashboardFlow(t, base, ana, cat)
}

// backfillFlow runs the backfill twice and checks that the views over the
// flow's events (and, with exactDAU, daily active users) did not move: the
// backfilled events carry the IDs of the live ones.
func backfillFlow(t *testing.T, base string, analyst, author member, pid string, backfill func(t *testing.T), exactDAU bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	an := analyticsv1connect.NewAnalyticsServiceClient(http.DefaultClient, base)
	from := timestamppb.New(time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2))
	views := func() string {
		t.Helper()
		eng, err := an.GetPostEngagement(ctx, by(analyst, &analyticsv1.GetPostEngagementRequest{PostId: pid}))
		if err != nil {
			t.Fatal(err)
		}
		fg, err := an.GetFollowerGrowth(ctx, by(analyst, &analyticsv1.GetFollowerGrowthRequest{UserId: author.id, From: from}))
		if err != nil {
			t.Fatal(err)
		}
		top, err := an.GetTopPosts(ctx, by(analyst, &analyticsv1.GetTopPostsRequest{Since: timestamppb.New(time.Now().Add(-time.Hour)), Limit: 100}))
		if err != nil {
			t.Fatal(err)
		}
		var mine string
		for _, p := range top.Msg.GetPosts() {
			if p.GetPostId() == pid {
				mine = fmt.Sprintf("likes %d comments %d reposts %d", p.GetLikes(), p.GetComments(), p.GetReposts())
			}
		}
		out := fmt.Sprintf("engagement %v\nfollower growth %v\ntop post %s", eng.Msg, fg.Msg, mine)
		if exactDAU {
			dau, err := an.GetDailyActiveUsers(ctx, by(analyst, &analyticsv1.GetDailyActiveUsersRequest{From: from}))
			if err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprintf("\ndaily active users %v", dau.Msg)
		}
		return out
	}
	before := views()
	for i := range 2 {
		backfill(t)
		// The backfill inserts into the analytics store directly: no
		// ingestion delay to wait for.
		if after := views(); after != before {
			t.Errorf("after backfill %d the views moved:\n%s\nwant\n%s", i+1, after, before)
		}
	}
}

// dashboardFlow signs in to /analytics as an analyst and checks the five
// charts render, and that a non-analyst gets no charts.
func dashboardFlow(t *testing.T, base string, analyst, other member) {
	signIn := func(m member) (*http.Client, *http.Response, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		res, err := c.Get(base + "/analytics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), `name="password"`) {
			t.Fatalf("signed-out /analytics = %d %s, want the sign-in form", res.StatusCode, body)
		}
		res, err = c.PostForm(base+"/analytics", url.Values{"identifier": {m.handle}, "password": {"correct horse battery"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		return c, res, string(body)
	}
	_, res, page := signIn(analyst)
	if res.StatusCode != 200 {
		t.Fatalf("analyst /analytics = %d: %s", res.StatusCode, page)
	}
	for _, id := range []string{"dau", "uploads", "top-posts", "post-engagement", "follower-growth"} {
		i := strings.Index(page, `<figure class="chart" id="`+id+`">`)
		if i < 0 {
			t.Errorf("dashboard has no %s chart", id)
			continue
		}
		fig := page[i:]
		fig = fig[:strings.Index(fig, "</figure>")]
		if !strings.Contains(fig, "<svg") || !(strings.Contains(fig, "<polyline") || strings.Contains(fig, `class="bar"`)) {
			t.Errorf("%s chart has no drawing: %s", id, fig)
		}
	}
	if strings.Contains(page, "<table") {
		t.Errorf("dashboard uses tables")
	}
	_, res, page = signIn(other)
	if res.StatusCode != http.StatusForbidden || strings.Contains(page, "<svg") {
		t.Errorf("non-analyst /analytics = %d with charts: %v", res.StatusCode, strings.Contains(page, "<svg"))
	}
	c, _, _ := signIn(analyst)
	res, err := c.PostForm(base+"/analytics", url.Values{"action": {"signout"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "<svg") {
		t.Errorf("signed out, the dashboard still shows charts")
	}
}

// TestDevAnalytics runs the analytics flow on the embedded profile.
func TestDevAnalytics(t *testing.T) {
	cfg := devConfig(t)
	cfg.Analytics.FlushInterval = 100 * time.Millisecond
	r, stop := startDev(t, cfg)
	defer stop()
	db, err := sqlite.Open(filepath.Join(cfg.DataDir, "db", account.Component+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accounts := accountsqlite.New(db)
	base := "http://" + r.HTTPAddr
	analyticsFlow(t, base, devMail(base), func(t *testing.T, id string) {
		if err := accounts.GrantRole(context.Background(), id, account.RoleAnalyst); err != nil {
			t.Fatal(err)
		}
	}, runBackfill(cfg, time.Time{}), true)
}

// runBackfill runs app.Backfill on cfg's stores (events at or after since)
// and checks it found the flow's rows.
func runBackfill(cfg *config.Config, since time.Time) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		st, err := app.Backfill(context.Background(), cfg, backfill.Options{Since: since})
		if err != nil {
			t.Fatalf("backfill: %v", err)
		}
		for _, src := range []string{"accounts", "posts", "engagement", "comments", "follows"} {
			if st.Events[src] == 0 {
				t.Errorf("backfill inserted no %s events: %+v", src, st)
			}
		}
	}
}

// TestScaleAnalytics runs the analytics flow on the scale profile: the
// accounts and feed workers and the auth, user, post, feed and analytics
// services on the real engines (ClickHouse 18.16 for analytics).
func TestScaleAnalytics(t *testing.T) {
	cfg := scaleConfig(t, "EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_SMTP_ADDR", "EJAZZ_CLICKHOUSE_ADDR")
	cfg.DataDir = t.TempDir() // the spool
	cfg.Analytics.FlushInterval = 100 * time.Millisecond
	base, _ := startScale(t, cfg, []string{workflows.QueueAccounts, workflows.QueueFeed}, []string{"auth", "user", "post", "feed", "analytics"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pg, err := postgres.Open(ctx, cfg.Postgres.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	accounts := accountpg.New(pg)
	// The engines are shared with other tests and runs: backfill this run's
	// window only, and compare the views of the flow's own users and post.
	since := time.Now().Add(-time.Minute)
	analyticsFlow(t, base, mailpit(testenv.Require(t, "EJAZZ_MAILPIT_URL")), func(t *testing.T, id string) {
		if err := accounts.GrantRole(context.Background(), id, account.RoleAnalyst); err != nil {
			t.Fatal(err)
		}
	}, runBackfill(cfg, since), false)
}

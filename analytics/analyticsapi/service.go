// Package analyticsapi is the AnalyticsService Connect handler: it checks the
// caller's role (analyst or admin for platform-wide views; the post's author
// or the user themselves for per-post and per-user views), validates and
// caps date ranges, reads the analytics store and fills days without
// activity. Errors become Connect codes here and only here.
package analyticsapi

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ejazz/ejazz/analytics"
	analyticsv1 "github.com/ejazz/ejazz/gen/ejazz/analytics/v1"
	"github.com/ejazz/ejazz/gen/ejazz/analytics/v1/analyticsv1connect"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Limits.
const (
	// MaxRangeDays caps a date range.
	MaxRangeDays = 366
	// MaxTopPosts caps GetTopPosts' limit; DefaultTopPosts is its default.
	MaxTopPosts     = 100
	DefaultTopPosts = 10
	maxIDLen        = 64
)

// Service implements AnalyticsService.
type Service struct {
	analyticsv1connect.UnimplementedAnalyticsServiceHandler
	Store    analytics.Store
	Posts    post.Store
	Profiles profile.Store
	// HalfLife ages engagement in GetTopPosts' score (default 24 h).
	HalfLife time.Duration
	Log      *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

var _ analyticsv1connect.AnalyticsServiceHandler = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) halfLife() time.Duration {
	if s.HalfLife > 0 {
		return s.HalfLife
	}
	return 24 * time.Hour
}

// IsAnalyst reports whether c may read platform-wide analytics (admin
// includes analyst).
func IsAnalyst(c auth.Caller) bool {
	return c.HasRole(account.RoleAnalyst) || c.HasRole(account.RoleAdmin)
}

func caller(ctx context.Context) (auth.Caller, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return c, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	return c, nil
}

func analyst(ctx context.Context) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !IsAnalyst(c) {
		return connect.NewError(connect.CodePermissionDenied, errors.New("this view needs the analyst role"))
	}
	return nil
}

func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	return apierr.Unavailable(ctx, s.Log, what, err)
}

// Range turns a request's from/to into whole UTC days [from, to): to unset
// means now; from is required, before to, and at most MaxRangeDays before
// it. Days touching the range are reported whole.
func Range(from, to *timestamppb.Timestamp, now time.Time) (analytics.Day, analytics.Day, error) {
	if from == nil {
		return time.Time{}, time.Time{}, apierr.Invalid("from", "is required")
	}
	if !from.IsValid() {
		return time.Time{}, time.Time{}, apierr.Invalid("from", "is not a valid time")
	}
	end := now
	if to != nil {
		if !to.IsValid() {
			return time.Time{}, time.Time{}, apierr.Invalid("to", "is not a valid time")
		}
		end = to.AsTime()
	}
	start := from.AsTime()
	if !start.Before(end) {
		return time.Time{}, time.Time{}, apierr.Invalid("from", "must be before to")
	}
	f, t := analytics.Floor(start), analytics.Ceil(end)
	if t.Sub(f) > MaxRangeDays*24*time.Hour {
		return time.Time{}, time.Time{}, apierr.Invalid("to", "must be at most 366 days after from")
	}
	return f, t, nil
}

// GetDailyActiveUsers returns distinct active users per day (analyst).
func (s *Service) GetDailyActiveUsers(ctx context.Context, req *connect.Request[analyticsv1.GetDailyActiveUsersRequest]) (*connect.Response[analyticsv1.GetDailyActiveUsersResponse], error) {
	if err := analyst(ctx); err != nil {
		return nil, err
	}
	from, to, err := Range(req.Msg.GetFrom(), req.Msg.GetTo(), s.now())
	if err != nil {
		return nil, err
	}
	days, err := s.Store.DailyActiveUsers(ctx, from, to)
	if err != nil {
		return nil, s.unavailable(ctx, "daily active users", err)
	}
	out := &analyticsv1.GetDailyActiveUsersResponse{}
	for _, d := range analytics.FillCounts(days, from, to) {
		out.Points = append(out.Points, &analyticsv1.DailyActiveUsersPoint{Day: timestamppb.New(d.Day), Users: int32(d.N)})
	}
	return connect.NewResponse(out), nil
}

// GetPostEngagement returns a post's engagement (its author or analyst).
// Days run from the post's creation to today.
func (s *Service) GetPostEngagement(ctx context.Context, req *connect.Request[analyticsv1.GetPostEngagementRequest]) (*connect.Response[analyticsv1.GetPostEngagementResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetPostId()
	if id == "" || len(id) > maxIDLen {
		return nil, apierr.Invalid("post_id", "is required and at most 64 bytes")
	}
	p, err := s.Posts.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such post"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get post", err)
	}
	if p.AuthorID != c.UserID && !IsAnalyst(c) {
		// Whether a post exists that the caller may not analyse is no secret
		// worth keeping here: GetPost tells the same to anyone it is visible to.
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only the post's author or an analyst may see its engagement"))
	}
	days, err := s.Store.PostEngagement(ctx, p.ID)
	if err != nil {
		return nil, s.unavailable(ctx, "post engagement", err)
	}
	out := &analyticsv1.GetPostEngagementResponse{}
	l, cm, r := analytics.Engagement(days)
	out.Likes, out.Comments, out.Reposts = int32(l), int32(cm), int32(r)
	from := analytics.Floor(p.CreatedAt)
	if len(days) > 0 && days[0].Day.Before(from) {
		from = days[0].Day
	}
	to := analytics.Floor(s.now()).AddDate(0, 0, 1)
	if len(days) > 0 && !days[len(days)-1].Day.Before(to) {
		to = days[len(days)-1].Day.AddDate(0, 0, 1)
	}
	if to.Sub(from) > MaxRangeDays*24*time.Hour {
		from = to.AddDate(0, 0, -MaxRangeDays) // the last year of an old post
	}
	by := map[int64]analytics.EngagementDay{}
	for _, d := range days {
		by[d.Day.Unix()] = d
	}
	for _, d := range analytics.Days(from, to) {
		e := by[d.Unix()]
		out.ByDay = append(out.ByDay, &analyticsv1.EngagementPoint{Day: timestamppb.New(d), Likes: int32(e.Likes), Comments: int32(e.Comments), Reposts: int32(e.Reposts)})
	}
	return connect.NewResponse(out), nil
}

// GetFollowerGrowth returns a user's follower growth (that user or analyst).
func (s *Service) GetFollowerGrowth(ctx context.Context, req *connect.Request[analyticsv1.GetFollowerGrowthRequest]) (*connect.Response[analyticsv1.GetFollowerGrowthResponse], error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetUserId()
	if id == "" || len(id) > maxIDLen {
		return nil, apierr.Invalid("user_id", "is required and at most 64 bytes")
	}
	if id != c.UserID && !IsAnalyst(c) {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only that user or an analyst may see their follower growth"))
	}
	from, to, err := Range(req.Msg.GetFrom(), req.Msg.GetTo(), s.now())
	if err != nil {
		return nil, err
	}
	if _, err := s.Profiles.Get(ctx, id); errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	} else if err != nil {
		return nil, s.unavailable(ctx, "get profile", err)
	}
	base, days, err := s.Store.FollowerGrowth(ctx, id, from, to)
	if err != nil {
		return nil, s.unavailable(ctx, "follower growth", err)
	}
	out := &analyticsv1.GetFollowerGrowthResponse{}
	for _, p := range analytics.Growth(base, days, from, to) {
		out.Points = append(out.Points, &analyticsv1.FollowerGrowthPoint{Day: timestamppb.New(p.Day), Followers: int32(p.Followers), Gained: int32(p.Gained), Lost: int32(p.Lost)})
	}
	return connect.NewResponse(out), nil
}

// GetMediaUploads returns completed uploads per day (analyst).
func (s *Service) GetMediaUploads(ctx context.Context, req *connect.Request[analyticsv1.GetMediaUploadsRequest]) (*connect.Response[analyticsv1.GetMediaUploadsResponse], error) {
	if err := analyst(ctx); err != nil {
		return nil, err
	}
	from, to, err := Range(req.Msg.GetFrom(), req.Msg.GetTo(), s.now())
	if err != nil {
		return nil, err
	}
	days, err := s.Store.MediaUploads(ctx, from, to)
	if err != nil {
		return nil, s.unavailable(ctx, "media uploads", err)
	}
	out := &analyticsv1.GetMediaUploadsResponse{}
	for _, d := range analytics.FillUploads(days, from, to) {
		out.Points = append(out.Points, &analyticsv1.MediaUploadsPoint{Day: timestamppb.New(d.Day), Uploads: int32(d.Uploads), Bytes: d.Bytes})
	}
	return connect.NewResponse(out), nil
}

// GetTopPosts returns the best-scored posts since a time (analyst).
func (s *Service) GetTopPosts(ctx context.Context, req *connect.Request[analyticsv1.GetTopPostsRequest]) (*connect.Response[analyticsv1.GetTopPostsResponse], error) {
	if err := analyst(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	since := req.Msg.GetSince()
	switch {
	case since == nil:
		return nil, apierr.Invalid("since", "is required")
	case !since.IsValid():
		return nil, apierr.Invalid("since", "is not a valid time")
	case since.AsTime().After(now):
		return nil, apierr.Invalid("since", "must not be in the future")
	case now.Sub(since.AsTime()) > MaxRangeDays*24*time.Hour:
		return nil, apierr.Invalid("since", "must be at most 366 days ago")
	}
	limit := int(req.Msg.GetLimit())
	switch {
	case limit < 0 || limit > MaxTopPosts:
		return nil, apierr.Invalid("limit", "must be between 0 and 100")
	case limit == 0:
		limit = DefaultTopPosts
	}
	top, err := s.Store.TopPosts(ctx, analytics.TopQuery{Since: since.AsTime(), Now: now, HalfLife: s.halfLife(), Limit: limit})
	if err != nil {
		return nil, s.unavailable(ctx, "top posts", err)
	}
	out := &analyticsv1.GetTopPostsResponse{}
	for _, p := range top {
		out.Posts = append(out.Posts, &analyticsv1.TopPost{PostId: p.PostID, Score: p.Score, Likes: int32(p.Likes), Comments: int32(p.Comments), Reposts: int32(p.Reposts)})
	}
	return connect.NewResponse(out), nil
}

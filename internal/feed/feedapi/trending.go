package feedapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/ejazz/ejazz/analytics"
	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
)

// Trending parameters: engagement of the last TrendingWindow, halved every
// TrendingHalfLife of age; the ranking is computed at most every
// TrendingTTL (default) and shared by every caller, then filtered per
// caller.
const (
	TrendingWindow     = 24 * time.Hour
	TrendingHalfLife   = 6 * time.Hour
	DefaultTrendingTTL = 30 * time.Second
	// trendingCandidates is how many ranked posts are kept: enough for a
	// full page after dropping posts that are not public or not visible.
	trendingCandidates = 300
)

// trending is the cached ranking.
type trending struct {
	mu    sync.Mutex
	at    time.Time
	posts []analytics.PostScore
	tags  []analytics.TagCount
}

func (s *Service) trendingTTL() time.Duration {
	if s.TrendingTTL > 0 {
		return s.TrendingTTL
	}
	return DefaultTrendingTTL
}

// ranking returns the cached ranking, recomputing it from the analytics
// store when older than the TTL (one caller recomputes; the others wait).
func (s *Service) ranking(ctx context.Context) ([]analytics.PostScore, []analytics.TagCount, error) {
	t := &s.trend
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now().UTC()
	if !t.at.IsZero() && now.Sub(t.at) < s.trendingTTL() {
		return t.posts, t.tags, nil
	}
	since := now.Add(-TrendingWindow)
	posts, err := s.Analytics.TopPosts(ctx, analytics.TopQuery{Since: since, Now: now, HalfLife: TrendingHalfLife, Limit: trendingCandidates})
	if err != nil {
		return nil, nil, err
	}
	tags, err := s.Analytics.TrendingHashtags(ctx, since, 100)
	if err != nil {
		return nil, nil, err
	}
	t.posts, t.tags, t.at = posts, tags, now
	return posts, tags, nil
}

// GetTrending returns the public posts with the highest decayed engagement
// of the last 24 hours that the caller may see (hydrated as every
// timeline), and the hashtags of the most public posts of those 24 hours.
// The ranking comes from the analytics store and is cached for
// TrendingTTL; page_size above 100 is lowered to 100.
func (s *Service) GetTrending(ctx context.Context, req *connect.Request[feedv1.GetTrendingRequest]) (*connect.Response[feedv1.GetTrendingResponse], error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in to see what is trending"))
	}
	if s.Analytics == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("trending needs the analytics store"))
	}
	n, err := apierr.PageSize(req.Msg.GetPageSize(), "")
	if err != nil {
		return nil, err
	}
	ranked, tags, err := s.ranking(ctx)
	if err != nil {
		return nil, s.unavailable(ctx, "trending", err)
	}
	out := &feedv1.GetTrendingResponse{}
	// Hydrate candidates in chunks until the page is full.
	for start := 0; start < len(ranked) && len(out.Posts) < n; start += 2 * n {
		chunk := ranked[start:min(start+2*n, len(ranked))]
		ids := make([]string, 0, len(chunk))
		for _, p := range chunk {
			if p.Score > 0 {
				ids = append(ids, p.PostID)
			}
		}
		ps, err := s.Posts.GetMany(ctx, ids)
		if err != nil {
			return nil, s.unavailable(ctx, "get posts", err)
		}
		hydrated, err := s.PostAPI.VisibleHydrated(ctx, c.UserID, ps)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]*postv1.Post, len(hydrated))
		for _, p := range hydrated {
			byID[p.GetPostId()] = p
		}
		for _, id := range ids {
			if p := byID[id]; p != nil && p.GetVisibility() == postv1.Visibility_VISIBILITY_PUBLIC && len(out.Posts) < n {
				out.Posts = append(out.Posts, p)
			}
		}
	}
	for _, t := range tags[:min(n, len(tags))] {
		out.Hashtags = append(out.Hashtags, &feedv1.TrendingHashtag{Hashtag: t.Tag, PostCount: int32(t.Posts)})
	}
	return connect.NewResponse(out), nil
}

// viewed reports a timeline read to analytics; it never fails the read.
func (s *Service) viewed(ctx context.Context, viewer, owner string) {
	if s.Events == nil || viewer == "" {
		return
	}
	if err := s.Events.Publish(ctx, event.New(event.TimelineViewed, viewer, owner, "", time.Now())); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "publish timeline view", "err", err)
	}
}

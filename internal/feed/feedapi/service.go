// Package feedapi is the FeedService Connect handler: home timelines (the
// fanned-out timeline store merged at read time with the recent posts of
// followed celebrities), user timelines, and their read-time filtering and
// hydration.
package feedapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/analytics"
	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/live"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/post/postapi"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

// maxIDLen bounds user_id. Paging follows apierr.PageSize (page_size
// above 100 is lowered to 100).
const maxIDLen = 64

// Service implements FeedService. GetTrending ranks from the analytics
// store (trending.go).
type Service struct {
	feedv1connect.UnimplementedFeedServiceHandler
	Timelines timeline.Store
	Posts     post.Store
	Graph     graph.Store
	Profiles  profile.Store
	// PostAPI filters and hydrates posts exactly as PostService does.
	PostAPI *postapi.Service
	// Threshold is the fan-out threshold: authors with more followers are
	// merged at read time (0 disables the merge).
	Threshold int
	// LiveThreshold, once set, replaces Threshold (config hot reload).
	LiveThreshold live.Int
	// CelebrityTTL is how long the list of celebrities is cached (default 30 s).
	CelebrityTTL time.Duration
	// Analytics ranks trending posts and hashtags; TrendingTTL is how long
	// the ranking is cached (default 30 s).
	Analytics   analytics.Store
	TrendingTTL time.Duration
	// Events receives timeline views (analytics); nil drops them.
	Events event.Publisher
	Log    *slog.Logger

	mu        sync.Mutex
	celebs    []string
	celebsAt  time.Time
	celebsFor int
	trend     trending
}

var _ feedv1connect.FeedServiceHandler = (*Service)(nil)

// unavailable reports a store failure without its details.
func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	return apierr.Unavailable(ctx, s.Log, what, err)
}

func invalid(field, reason string) error { return apierr.Invalid(field, reason) }

var errBadToken = invalid("page_token", "is invalid (it must come from a previous response of the same timeline)")

// celebrities returns the cached list of users above the threshold.
func (s *Service) celebrities(ctx context.Context) ([]string, error) {
	threshold := s.LiveThreshold.Get(s.Threshold)
	if threshold <= 0 {
		return nil, nil
	}
	ttl := s.CelebrityTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.celebsAt.IsZero() && time.Since(s.celebsAt) < ttl && s.celebsFor == threshold {
		return s.celebs, nil
	}
	cs, err := s.Graph.Popular(ctx, threshold+1)
	if err != nil {
		return nil, err
	}
	s.celebs, s.celebsAt, s.celebsFor = cs, time.Now(), threshold
	return cs, nil
}

// boundID is a UUIDv7-shaped string that sorts after every post ID of the
// millisecond of t and before every later one.
func boundID(t time.Time) string {
	ms := t.UnixMilli()
	return fmt.Sprintf("%08x-%04x-7fff-ffff-ffffffffffff", uint64(ms)>>16, uint64(ms)&0xffff)
}

// GetHomeTimeline returns the caller's home timeline, newest first: the
// fanned-out entries merged with the recent posts of followed celebrities,
// one repost per post per page (the original wins), filtered for
// visibility, blocks, mutes and deletions, and hydrated. Filtering can make
// a page shorter than page_size while next_page_token goes on. The stored
// timeline keeps the newest timeline.MaxEntries entries; past them the
// timeline ends.
func (s *Service) GetHomeTimeline(ctx context.Context, req *connect.Request[feedv1.GetHomeTimelineRequest]) (*connect.Response[feedv1.GetHomeTimelineResponse], error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in to see your home timeline"))
	}
	viewer := c.UserID
	n, err := apierr.PageSize(req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	after, hasAfter, err := timeline.DecodeCursor(req.Msg.GetPageToken())
	if err != nil {
		return nil, errBadToken
	}
	entries, _, err := s.Timelines.Page(ctx, viewer, req.Msg.GetPageToken(), n)
	if err != nil {
		return nil, s.unavailable(ctx, "timeline page", err)
	}
	celebs, err := s.celebrities(ctx)
	if err != nil {
		return nil, s.unavailable(ctx, "celebrities", err)
	}
	rels, err := s.Graph.Relationships(ctx, viewer, celebs)
	if err != nil {
		return nil, s.unavailable(ctx, "relationships", err)
	}
	for _, celeb := range celebs {
		if celeb == viewer || !rels[celeb].Following {
			continue
		}
		cursor := ""
		if hasAfter {
			cursor = post.EncodeCursor(boundID(after.At))
		}
		ps, _, err := s.Posts.ByAuthor(ctx, celeb, cursor, n)
		if err != nil {
			return nil, s.unavailable(ctx, "celebrity posts", err)
		}
		for _, p := range ps {
			e := timeline.Entry{PostID: p.ID, AuthorID: p.AuthorID, At: activities.EntryTime(p.ID, p.CreatedAt)}
			if !hasAfter || timeline.Before(e, after) {
				entries = append(entries, e)
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return timeline.Before(entries[j], entries[i]) })
	entries = dedupe(entries)
	next := ""
	if len(entries) >= n {
		entries = entries[:n]
		next = timeline.EncodeCursor(entries[n-1])
	}
	items, err := s.items(ctx, viewer, entries)
	if err != nil {
		return nil, err
	}
	s.viewed(ctx, viewer, "")
	return connect.NewResponse(&feedv1.GetHomeTimelineResponse{Items: items, NextPageToken: next}), nil
}

// dedupe drops repeated entries and keeps one entry per post: the original
// when present, else the newest repost.
func dedupe(es []timeline.Entry) []timeline.Entry {
	original := map[string]bool{}
	for _, e := range es {
		if e.RepostedBy == "" {
			original[e.PostID] = true
		}
	}
	seen := map[string]bool{}
	out := es[:0:0]
	for _, e := range es {
		if seen[e.PostID] || e.RepostedBy != "" && original[e.PostID] {
			continue
		}
		seen[e.PostID] = true
		out = append(out, e)
	}
	return out
}

// items hydrates entries for viewer, dropping what viewer may not see, what
// is deleted, reposts that were undone, and authors or reposters viewer
// mutes.
func (s *Service) items(ctx context.Context, viewer string, entries []timeline.Entry) ([]*feedv1.TimelineItem, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(entries))
	byReposter := map[string][]string{}
	for _, e := range entries {
		ids = append(ids, e.PostID)
		if e.RepostedBy != "" {
			byReposter[e.RepostedBy] = append(byReposter[e.RepostedBy], e.PostID)
		}
	}
	ps, err := s.Posts.GetMany(ctx, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "get posts", err)
	}
	hydrated, err := s.PostAPI.VisibleHydrated(ctx, viewer, ps)
	if err != nil {
		return nil, err
	}
	muted := map[string]bool{}
	if viewer != "" {
		page, err := s.Graph.Muted(ctx, viewer, "", 1000)
		if err != nil {
			return nil, s.unavailable(ctx, "muted", err)
		}
		for _, e := range page.Edges {
			muted[e.UserID] = true
		}
	}
	reposted := map[string]bool{} // reposter + "\x00" + post
	for who, pids := range byReposter {
		st, err := s.Posts.Viewer(ctx, who, pids)
		if err != nil {
			return nil, s.unavailable(ctx, "repost state", err)
		}
		for pid, v := range st {
			if v.Reposted {
				reposted[who+"\x00"+pid] = true
			}
		}
	}
	byID := make(map[string]*postv1.Post, len(hydrated))
	for _, p := range hydrated {
		byID[p.GetPostId()] = p
	}
	var reposters []string
	for who := range byReposter {
		reposters = append(reposters, who)
	}
	profiles, err := s.Profiles.GetMany(ctx, reposters)
	if err != nil {
		return nil, s.unavailable(ctx, "get profiles", err)
	}
	summaries := map[string]*userv1.UserSummary{}
	for _, p := range profiles {
		summaries[p.UserID] = &userv1.UserSummary{UserId: p.UserID, Handle: p.Handle, DisplayName: p.DisplayName, AvatarMediaId: p.AvatarMediaID}
	}
	out := make([]*feedv1.TimelineItem, 0, len(entries))
	for _, e := range entries {
		p, ok := byID[e.PostID]
		if !ok || muted[e.AuthorID] {
			continue
		}
		item := &feedv1.TimelineItem{Post: p}
		if e.RepostedBy != "" {
			if muted[e.RepostedBy] || !reposted[e.RepostedBy+"\x00"+e.PostID] || summaries[e.RepostedBy] == nil {
				continue
			}
			item.RepostedBy, item.RepostedAt = summaries[e.RepostedBy], timestamppb.New(e.At)
		}
		out = append(out, item)
	}
	return out, nil
}

// GetUserTimeline returns a user's posts, newest first, as far as the
// caller may see them. (Reposts by the user are not listed here yet.)
func (s *Service) GetUserTimeline(ctx context.Context, req *connect.Request[feedv1.GetUserTimelineRequest]) (*connect.Response[feedv1.GetUserTimelineResponse], error) {
	m := req.Msg
	if m.GetUserId() == "" || len(m.GetUserId()) > maxIDLen {
		return nil, invalid("user_id", "is required and at most 64 bytes")
	}
	n, err := apierr.PageSize(m.GetPageSize(), m.GetPageToken())
	if err != nil {
		return nil, err
	}
	c, signed := auth.CallerFrom(ctx)
	owner, err := s.Profiles.Get(ctx, m.GetUserId())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get profile", err)
	}
	if signed && c.UserID != owner.UserID {
		r, err := s.Graph.Relationship(ctx, c.UserID, owner.UserID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, s.unavailable(ctx, "relationship", err)
		}
		if r.BlockedBy {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
		}
		if owner.IsPrivate && !r.Following {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("this account is private; follow it to see its posts"))
		}
	}
	if !signed && owner.IsPrivate {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in to see this account's posts"))
	}
	ps, next, err := s.Posts.ByAuthor(ctx, owner.UserID, m.GetPageToken(), n)
	if errors.Is(err, post.ErrBadCursor) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, s.unavailable(ctx, "user posts", err)
	}
	hydrated, err := s.PostAPI.VisibleHydrated(ctx, c.UserID, ps)
	if err != nil {
		return nil, err
	}
	s.viewed(ctx, c.UserID, owner.UserID)
	out := &feedv1.GetUserTimelineResponse{NextPageToken: next}
	for _, p := range hydrated {
		out.Items = append(out.Items, &feedv1.TimelineItem{Post: p})
	}
	return connect.NewResponse(out), nil
}

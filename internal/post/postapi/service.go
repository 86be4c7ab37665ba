// Package postapi is the PostService Connect handler: posts with edit
// history, reposts, quotes, likes, comments and hashtag lists. It validates
// requests, parses hashtags and mentions, enforces visibility on every read
// (post.Visible against the graph), hydrates posts (author, mentions,
// counts, the caller's like/repost state), publishes post events, and turns
// errors into Connect codes here and only here.
package postapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/ejazz/ejazz/gen/ejazz/media/v1"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Limits.
const (
	// MaxTextRunes is the longest post text, in characters.
	MaxTextRunes = 5000
	// MaxCommentRunes is the longest comment, in characters.
	MaxCommentRunes = 2000
	// MaxMedia is how many media a post may carry.
	MaxMedia = 4
	// MaxContentWarningRunes bounds a content warning.
	MaxContentWarningRunes = 200
	// MaxIdempotencyKeyLen bounds idempotency_key, in bytes.
	MaxIdempotencyKeyLen = 128
	maxIDLen             = 64
)

// Media is what posts need of the media service: CheckAttachable checks
// every ID exists, is owned by owner and is READY; Describe returns the READY
// items among ids (with variant URLs) for hydrating posts. A nil Media treats
// every media ID as unknown.
type Media interface {
	CheckAttachable(ctx context.Context, owner string, ids []string) error
	Describe(ctx context.Context, ids []string) (map[string]*mediav1.Media, error)
}

// ErrMediaNotReady is what Media.CheckAttachable returns (wrapped) for media
// that exist but are not READY; storage.ErrNotFound for unknown or foreign.
var ErrMediaNotReady = media.ErrNotReady

// Service implements PostService.
type Service struct {
	postv1connect.UnimplementedPostServiceHandler
	Posts    post.Store
	Graph    graph.Store
	Profiles profile.Store
	Media    Media
	// Events receives post events; nil drops them.
	Events event.Publisher
	Log    *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

var _ postv1connect.PostServiceHandler = (*Service)(nil)

var errNoPost = connect.NewError(connect.CodeNotFound, errors.New("no such post"))

// now is the clock to the millisecond, what every post store keeps: events
// published with a stored time (post, comment, like, repost) then carry
// exactly the time a scan of the store returns, and the analytics backfill
// derives the same event IDs from it.
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// unavailable reports a store failure without its details.
func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	return apierr.Unavailable(ctx, s.Log, what, err)
}

func (s *Service) publish(ctx context.Context, events ...event.Event) {
	if s.Events == nil || len(events) == 0 {
		return
	}
	if err := s.Events.Publish(ctx, events...); err != nil {
		s.log().ErrorContext(ctx, "publish post events", "err", err, "kind", string(events[0].Kind))
	}
}

func invalid(field, reason string) error { return apierr.Invalid(field, reason) }

func signedIn(ctx context.Context) (string, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	return c.UserID, nil
}

func viewerOf(ctx context.Context) string {
	c, _ := auth.CallerFrom(ctx)
	return c.UserID
}

func checkID(field, id string) error {
	if id == "" || len(id) > maxIDLen {
		return invalid(field, "is required and at most 64 bytes")
	}
	return nil
}

func newID() (string, error) {
	id, err := uuid.NewV7()
	return id.String(), err
}

// validText checks a text field: valid UTF-8, no NUL, at most max
// characters, and not blank unless allowEmpty.
func validText(field, text string, max int, allowEmpty bool) error {
	switch {
	case !utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0:
		return invalid(field, "must be valid UTF-8 without NUL characters")
	case utf8.RuneCountInString(text) > max:
		return invalid(field, fmt.Sprintf("must be at most %d characters", max))
	case !allowEmpty && strings.TrimSpace(text) == "":
		return invalid(field, "must not be empty")
	}
	return nil
}

func pageErr(s *Service, ctx context.Context, what string, err error) error {
	if errors.Is(err, post.ErrBadCursor) {
		return invalid("page_token", "is invalid (it must come from a previous response of the same list)")
	}
	return s.unavailable(ctx, what, err)
}

// audience is what visibility needs to know about a set of authors for one
// viewer: their privacy and the viewer's relationship to each.
type audience struct {
	viewer   string
	profiles map[string]profile.Profile
	rels     map[string]graph.Relationship
}

// audienceFor loads the profiles of ids and, for a signed-in viewer, the
// viewer's relationship to each.
func (s *Service) audienceFor(ctx context.Context, viewer string, ids []string) (*audience, error) {
	a := &audience{viewer: viewer, profiles: map[string]profile.Profile{}, rels: map[string]graph.Relationship{}}
	uniq := dedupe(ids)
	ps, err := s.Profiles.GetMany(ctx, uniq)
	if err != nil {
		return nil, s.unavailable(ctx, "get profiles", err)
	}
	for _, p := range ps {
		a.profiles[p.UserID] = p
	}
	if viewer == "" {
		return a, nil
	}
	var others []string
	for _, id := range uniq {
		if _, ok := a.profiles[id]; ok && id != viewer {
			others = append(others, id)
		}
	}
	rels, err := s.Graph.Relationships(ctx, viewer, others)
	if err != nil {
		return nil, s.unavailable(ctx, "relationships", err)
	}
	a.rels = rels
	return a, nil
}

// sees reports whether the viewer may see p (an author without a profile —
// an account being deleted — hides its posts).
func (a *audience) sees(p post.Post) bool {
	pr, ok := a.profiles[p.AuthorID]
	return ok && post.Visible(p, a.viewer, pr.IsPrivate, a.rels[p.AuthorID])
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// visiblePost loads a post the caller may see: not_found when it is missing
// or hidden from a signed-in caller, unauthenticated when an anonymous
// caller would need to sign in.
func (s *Service) visiblePost(ctx context.Context, id string) (post.Post, *audience, error) {
	if err := checkID("post_id", id); err != nil {
		return post.Post{}, nil, err
	}
	p, err := s.Posts.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return p, nil, errNoPost
	}
	if err != nil {
		return p, nil, s.unavailable(ctx, "get post", err)
	}
	viewer := viewerOf(ctx)
	a, err := s.audienceFor(ctx, viewer, []string{p.AuthorID})
	if err != nil {
		return p, nil, err
	}
	if !a.sees(p) {
		if viewer == "" {
			if _, ok := a.profiles[p.AuthorID]; ok {
				return p, nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in to see this post"))
			}
		}
		return p, nil, errNoPost
	}
	return p, a, nil
}

// hydrate turns posts into API posts: author summaries, mentioned handles,
// counts and the viewer's state.
func (s *Service) hydrate(ctx context.Context, viewer string, ps []post.Post) ([]*postv1.Post, error) {
	return s.hydrateKnown(ctx, viewer, ps, nil)
}

// hydrateKnown is hydrate reusing the profiles already read (known), so a
// list that was just filtered for visibility reads its authors once.
func (s *Service) hydrateKnown(ctx context.Context, viewer string, ps []post.Post, known map[string]profile.Profile) ([]*postv1.Post, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	var missing, ids []string
	byID := make(map[string]profile.Profile, len(known)+len(ps))
	for id, p := range known {
		byID[id] = p
	}
	for _, p := range ps {
		ids = append(ids, p.ID)
		for _, u := range append([]string{p.AuthorID}, p.Mentions...) {
			if _, ok := byID[u]; !ok {
				missing = append(missing, u)
			}
		}
	}
	if missing = dedupe(missing); len(missing) > 0 {
		profiles, err := s.Profiles.GetMany(ctx, missing)
		if err != nil {
			return nil, s.unavailable(ctx, "get profiles", err)
		}
		for _, p := range profiles {
			byID[p.UserID] = p
		}
	}
	counts, err := s.Posts.Counts(ctx, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "counts", err)
	}
	var attached map[string]*mediav1.Media
	if s.Media != nil {
		var mids []string
		for _, p := range ps {
			mids = append(mids, p.MediaIDs...)
		}
		if mids = dedupe(mids); len(mids) > 0 {
			if attached, err = s.Media.Describe(ctx, mids); err != nil {
				return nil, err
			}
		}
	}
	var states map[string]post.ViewerState
	if viewer != "" {
		if states, err = s.Posts.Viewer(ctx, viewer, ids); err != nil {
			return nil, s.unavailable(ctx, "viewer state", err)
		}
	}
	out := make([]*postv1.Post, len(ps))
	for i, p := range ps {
		c, v := counts[p.ID], states[p.ID]
		m := &postv1.Post{
			PostId: p.ID, AuthorId: p.AuthorID, Text: p.Text, Visibility: postv1.Visibility(p.Visibility),
			ContentWarning: p.ContentWarning, QuotePostId: p.QuotePostID, Hashtags: p.Hashtags,
			CreatedAt: timestamppb.New(p.CreatedAt), LikeCount: int32(c.Likes), CommentCount: int32(c.Comments),
			RepostCount: int32(c.Reposts), ViewerHasLiked: v.Liked, ViewerHasReposted: v.Reposted,
			Author: summary(byID[p.AuthorID], p.AuthorID),
		}
		if !p.EditedAt.IsZero() {
			m.EditedAt = timestamppb.New(p.EditedAt)
		}
		for _, id := range p.MediaIDs {
			if a, ok := attached[id]; ok { // deleted media drop out
				m.Media = append(m.Media, a)
			}
		}
		for _, u := range p.Mentions {
			if pr, ok := byID[u]; ok {
				m.Mentions = append(m.Mentions, pr.Handle)
			}
		}
		out[i] = m
	}
	return out, nil
}

func summary(p profile.Profile, id string) *userv1.UserSummary {
	return &userv1.UserSummary{UserId: id, Handle: p.Handle, DisplayName: p.DisplayName, AvatarMediaId: p.AvatarMediaID}
}

// resolveMentions maps handles to user IDs, leaving unknown handles as text.
func (s *Service) resolveMentions(ctx context.Context, handles []string) ([]string, error) {
	var ids []string
	for _, h := range handles {
		p, err := s.Profiles.GetByHandle(ctx, h)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, s.unavailable(ctx, "resolve mention", err)
		}
		ids = append(ids, p.UserID)
	}
	return dedupe(ids), nil
}

// CreatePost publishes a post.
func (s *Service) CreatePost(ctx context.Context, req *connect.Request[postv1.CreatePostRequest]) (*connect.Response[postv1.CreatePostResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	vis := post.Visibility(m.GetVisibility())
	if m.GetVisibility() == postv1.Visibility_VISIBILITY_UNSPECIFIED {
		vis = post.Public
	}
	var errs []error
	errs = append(errs, validText("text", m.GetText(), MaxTextRunes, len(m.GetMediaIds()) > 0))
	if len(m.GetMediaIds()) > MaxMedia {
		errs = append(errs, invalid("media_ids", fmt.Sprintf("must hold at most %d media", MaxMedia)))
	}
	for _, id := range m.GetMediaIds() {
		if id == "" || len(id) > maxIDLen {
			errs = append(errs, invalid("media_ids", "must hold non-empty IDs of at most 64 bytes"))
			break
		}
	}
	if vis < post.Public || vis > post.OnlyMe {
		errs = append(errs, invalid("visibility", "must be PUBLIC, FOLLOWERS, FRIENDS or ONLY_ME"))
	}
	errs = append(errs, validText("content_warning", m.GetContentWarning(), MaxContentWarningRunes, true))
	if len(m.GetIdempotencyKey()) > MaxIdempotencyKeyLen {
		errs = append(errs, invalid("idempotency_key", "must be at most 128 bytes"))
	}
	if q := m.GetQuotePostId(); q != "" && len(q) > maxIDLen {
		errs = append(errs, invalid("quote_post_id", "must be at most 64 bytes"))
	}
	if err := joinInvalid(errs); err != nil {
		return nil, err
	}
	if len(m.GetMediaIds()) > 0 {
		if err := s.checkMedia(ctx, caller, m.GetMediaIds()); err != nil {
			return nil, err
		}
	}
	var quoted post.Post
	if q := m.GetQuotePostId(); q != "" {
		if quoted, _, err = s.visiblePost(ctx, q); err != nil {
			if connect.CodeOf(err) == connect.CodeNotFound {
				return nil, connect.NewError(connect.CodeNotFound, errors.New("quote_post_id: no such post"))
			}
			return nil, err
		}
	}
	tags, handles := post.Parse(m.GetText())
	mentions, err := s.resolveMentions(ctx, handles)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, s.unavailable(ctx, "new id", err)
	}
	p := post.Post{
		ID: id, AuthorID: caller, Text: m.GetText(), MediaIDs: m.GetMediaIds(), Visibility: vis,
		ContentWarning: m.GetContentWarning(), QuotePostID: m.GetQuotePostId(), Hashtags: tags, Mentions: mentions,
		CreatedAt: s.now(),
	}
	stored, _, err := s.Posts.Create(ctx, p, m.GetIdempotencyKey())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("idempotency_key: the post created with this key was deleted"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "create post", err)
	}
	// The events go out on every call, a retry's included: if the first
	// attempt stored the post but could not hand its events over (the
	// fan-out queue was down), the retry finishes the job. Event IDs come
	// from the stored post, so consumers see the same events again.
	created := event.New(event.PostCreated, caller, "", stored.ID, stored.CreatedAt)
	if stored.Visibility == post.Public { // trending counts public hashtags only
		created.Hashtags = strings.Join(stored.Hashtags, " ")
	}
	evs := []event.Event{created}
	if stored.QuotePostID != "" {
		qa := quoted.AuthorID
		evs = append(evs, event.New(event.Quoted, caller, qa, stored.ID, stored.CreatedAt))
	}
	for _, u := range stored.Mentions {
		if u != caller {
			evs = append(evs, event.New(event.Mentioned, caller, u, stored.ID, stored.CreatedAt))
		}
	}
	if s.Events != nil {
		if err := s.Events.Publish(ctx, evs...); err != nil {
			s.log().ErrorContext(ctx, "publish post events", "err", err, "post_id", stored.ID)
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("the post is saved but its delivery could not be queued; retry with the same idempotency_key"))
		}
	}
	out, err := s.hydrate(ctx, caller, []post.Post{stored})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.CreatePostResponse{Post: out[0]}), nil
}

func (s *Service) checkMedia(ctx context.Context, owner string, ids []string) error {
	if s.Media == nil {
		return connect.NewError(connect.CodeNotFound, errors.New("media_ids: no such media"))
	}
	err := s.Media.CheckAttachable(ctx, owner, ids)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("media_ids: no such media of yours"))
	case errors.Is(err, ErrMediaNotReady):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("media_ids: a media item is not ready yet"))
	}
	return s.unavailable(ctx, "check media", err)
}

// joinInvalid joins the validation errors into one invalid_argument.
func joinInvalid(errs []error) error {
	var msgs []string
	for _, e := range errs {
		var ce *connect.Error
		if errors.As(e, &ce) {
			msgs = append(msgs, ce.Message())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return connect.NewError(connect.CodeInvalidArgument, errors.New(strings.Join(msgs, "; ")))
}

// GetPost returns one post the caller may see.
func (s *Service) GetPost(ctx context.Context, req *connect.Request[postv1.GetPostRequest]) (*connect.Response[postv1.GetPostResponse], error) {
	p, _, err := s.visiblePost(ctx, req.Msg.GetPostId())
	if err != nil {
		return nil, err
	}
	out, err := s.hydrate(ctx, viewerOf(ctx), []post.Post{p})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.GetPostResponse{Post: out[0]}), nil
}

// BatchGetPosts returns the visible posts among up to 100 IDs, in order.
func (s *Service) BatchGetPosts(ctx context.Context, req *connect.Request[postv1.BatchGetPostsRequest]) (*connect.Response[postv1.BatchGetPostsResponse], error) {
	viewer, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	ids := req.Msg.GetPostIds()
	if len(ids) > apierr.MaxPageSize {
		return nil, invalid("post_ids", "must hold at most 100 IDs")
	}
	for _, id := range ids {
		if err := checkID("post_ids", id); err != nil {
			return nil, err
		}
	}
	ps, err := s.Posts.GetMany(ctx, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "get posts", err)
	}
	out, err := s.VisibleHydrated(ctx, viewer, ps)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.BatchGetPostsResponse{Posts: out}), nil
}

// filterAudience keeps the posts viewer may see and returns the audience it
// read to decide.
func (s *Service) filterAudience(ctx context.Context, viewer string, ps []post.Post) ([]post.Post, *audience, error) {
	authors := make([]string, len(ps))
	for i, p := range ps {
		authors[i] = p.AuthorID
	}
	a, err := s.audienceFor(ctx, viewer, authors)
	if err != nil {
		return nil, nil, err
	}
	out := ps[:0:0]
	for _, p := range ps {
		if a.sees(p) {
			out = append(out, p)
		}
	}
	return out, a, nil
}

// ownPost loads a post for a change only its author may make.
func (s *Service) ownPost(ctx context.Context, caller, id string) (post.Post, error) {
	p, _, err := s.visiblePost(ctx, id)
	if err != nil {
		return p, err
	}
	if p.AuthorID != caller {
		return p, connect.NewError(connect.CodePermissionDenied, errors.New("only the author may change this post"))
	}
	return p, nil
}

// EditPost changes the text (and optionally the content warning).
func (s *Service) EditPost(ctx context.Context, req *connect.Request[postv1.EditPostRequest]) (*connect.Response[postv1.EditPostResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if err := checkID("post_id", m.GetPostId()); err != nil {
		return nil, err
	}
	if err := validText("content_warning", m.GetContentWarning(), MaxContentWarningRunes, true); err != nil {
		return nil, err
	}
	p, err := s.ownPost(ctx, caller, m.GetPostId())
	if err != nil {
		return nil, err
	}
	if err := validText("text", m.GetText(), MaxTextRunes, len(p.MediaIDs) > 0); err != nil {
		return nil, err
	}
	cw := p.ContentWarning
	if m.ContentWarning != nil {
		cw = m.GetContentWarning()
	}
	tags, handles := post.Parse(m.GetText())
	mentions, err := s.resolveMentions(ctx, handles)
	if err != nil {
		return nil, err
	}
	now := s.now()
	edited, err := s.Posts.Edit(ctx, p.ID, m.GetText(), cw, tags, mentions, now)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.unavailable(ctx, "edit post", err)
	}
	evs := []event.Event{event.New(event.PostEdited, caller, "", p.ID, now)}
	for _, u := range mentions {
		if u != caller && !contains(p.Mentions, u) {
			evs = append(evs, event.New(event.Mentioned, caller, u, p.ID, now))
		}
	}
	s.publish(ctx, evs...)
	out, err := s.hydrate(ctx, caller, []post.Post{edited})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.EditPostResponse{Post: out[0]}), nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// ListPostEdits lists the versions of a post, newest first, the current
// one included (on the first page).
func (s *Service) ListPostEdits(ctx context.Context, req *connect.Request[postv1.ListPostEditsRequest]) (*connect.Response[postv1.ListPostEditsResponse], error) {
	n, err := apierr.PageSize(req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	p, _, err := s.visiblePost(ctx, req.Msg.GetPostId())
	if err != nil {
		return nil, err
	}
	out := &postv1.ListPostEditsResponse{}
	if req.Msg.GetPageToken() == "" {
		at := p.CreatedAt
		if !p.EditedAt.IsZero() {
			at = p.EditedAt
		}
		out.Edits = append(out.Edits, &postv1.PostEdit{Text: p.Text, ContentWarning: p.ContentWarning, CreatedAt: timestamppb.New(at)})
		n--
	}
	if n > 0 {
		es, next, err := s.Posts.Edits(ctx, p.ID, req.Msg.GetPageToken(), n)
		if err != nil {
			return nil, pageErr(s, ctx, "list edits", err)
		}
		for _, e := range es {
			out.Edits = append(out.Edits, &postv1.PostEdit{Text: e.Text, ContentWarning: e.ContentWarning, CreatedAt: timestamppb.New(e.At)})
		}
		out.NextPageToken = next
	} else if !p.EditedAt.IsZero() {
		out.NextPageToken = post.EncodeCursor(fmt.Sprint(int64(1<<63 - 1)))
	}
	return connect.NewResponse(out), nil
}

// DeletePost deletes the caller's post; deleting a post that is gone succeeds.
func (s *Service) DeletePost(ctx context.Context, req *connect.Request[postv1.DeletePostRequest]) (*connect.Response[postv1.DeletePostResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID("post_id", req.Msg.GetPostId()); err != nil {
		return nil, err
	}
	p, err := s.Posts.Get(ctx, req.Msg.GetPostId())
	if errors.Is(err, storage.ErrNotFound) {
		return connect.NewResponse(&postv1.DeletePostResponse{}), nil
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get post", err)
	}
	if p.AuthorID != caller {
		if _, _, err := s.visiblePost(ctx, p.ID); err != nil {
			return nil, err
		}
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only the author may delete this post"))
	}
	if _, _, err := s.Posts.Delete(ctx, p.ID); err != nil {
		return nil, s.unavailable(ctx, "delete post", err)
	}
	// Published even when a concurrent call deleted it first: removing
	// timeline entries twice is harmless. At is the post's creation time, so
	// the event is the same for every delete of this post.
	s.publish(ctx, event.New(event.PostDeleted, caller, "", p.ID, p.CreatedAt))
	return connect.NewResponse(&postv1.DeletePostResponse{}), nil
}

// engage runs a like/repost change on a post the caller may see.
func (s *Service) engage(ctx context.Context, id string, publicOnly bool, do func(caller string, p post.Post, at time.Time) (bool, error), kind event.Kind) error {
	caller, err := signedIn(ctx)
	if err != nil {
		return err
	}
	p, _, err := s.visiblePost(ctx, id)
	if err != nil {
		return err
	}
	if publicOnly && p.Visibility != post.Public {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("only public posts can be reposted"))
	}
	at := s.now() // the stored time and the event's
	changed, err := do(caller, p, at)
	if errors.Is(err, storage.ErrNotFound) {
		return errNoPost
	}
	if err != nil {
		return s.unavailable(ctx, string(kind), err)
	}
	// Every real change is an event, the author's own included: consumers
	// (notifications) drop what they do not want.
	if changed {
		s.publish(ctx, event.New(kind, caller, p.AuthorID, p.ID, at))
	}
	return nil
}

// LikePost likes a post (idempotent).
func (s *Service) LikePost(ctx context.Context, req *connect.Request[postv1.LikePostRequest]) (*connect.Response[postv1.LikePostResponse], error) {
	err := s.engage(ctx, req.Msg.GetPostId(), false, func(caller string, p post.Post, at time.Time) (bool, error) {
		return s.Posts.Like(ctx, p.ID, caller, at)
	}, event.Liked)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.LikePostResponse{}), nil
}

// UnlikePost removes the caller's like (idempotent).
func (s *Service) UnlikePost(ctx context.Context, req *connect.Request[postv1.UnlikePostRequest]) (*connect.Response[postv1.UnlikePostResponse], error) {
	err := s.engage(ctx, req.Msg.GetPostId(), false, func(caller string, p post.Post, at time.Time) (bool, error) {
		return s.Posts.Unlike(ctx, p.ID, caller)
	}, event.Unliked)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.UnlikePostResponse{}), nil
}

// Repost shares a public post (idempotent).
func (s *Service) Repost(ctx context.Context, req *connect.Request[postv1.RepostRequest]) (*connect.Response[postv1.RepostResponse], error) {
	err := s.engage(ctx, req.Msg.GetPostId(), true, func(caller string, p post.Post, at time.Time) (bool, error) {
		return s.Posts.Repost(ctx, p.ID, caller, at)
	}, event.Reposted)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.RepostResponse{}), nil
}

// UndoRepost removes the caller's repost (idempotent).
func (s *Service) UndoRepost(ctx context.Context, req *connect.Request[postv1.UndoRepostRequest]) (*connect.Response[postv1.UndoRepostResponse], error) {
	err := s.engage(ctx, req.Msg.GetPostId(), false, func(caller string, p post.Post, at time.Time) (bool, error) {
		return s.Posts.UndoRepost(ctx, p.ID, caller)
	}, event.RepostUndone)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.UndoRepostResponse{}), nil
}

// ListLikes lists who liked a post the caller may see, newest first.
func (s *Service) ListLikes(ctx context.Context, req *connect.Request[postv1.ListLikesRequest]) (*connect.Response[postv1.ListLikesResponse], error) {
	if _, err := signedIn(ctx); err != nil {
		return nil, err
	}
	n, err := apierr.PageSize(req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	p, _, err := s.visiblePost(ctx, req.Msg.GetPostId())
	if err != nil {
		return nil, err
	}
	es, next, err := s.Posts.Likes(ctx, p.ID, req.Msg.GetPageToken(), n)
	if err != nil {
		return nil, pageErr(s, ctx, "list likes", err)
	}
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.UserID
	}
	ps, err := s.Profiles.GetMany(ctx, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "get profiles", err)
	}
	out := &postv1.ListLikesResponse{NextPageToken: next}
	for _, pr := range ps {
		out.Users = append(out.Users, summary(pr, pr.UserID))
	}
	return connect.NewResponse(out), nil
}

// CreateComment comments on a post the caller may see, or replies to a
// top-level comment of it.
func (s *Service) CreateComment(ctx context.Context, req *connect.Request[postv1.CreateCommentRequest]) (*connect.Response[postv1.CreateCommentResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if err := validText("text", m.GetText(), MaxCommentRunes, false); err != nil {
		return nil, err
	}
	if pid := m.GetParentCommentId(); len(pid) > maxIDLen {
		return nil, invalid("parent_comment_id", "must be at most 64 bytes")
	}
	p, _, err := s.visiblePost(ctx, m.GetPostId())
	if err != nil {
		return nil, err
	}
	if pid := m.GetParentCommentId(); pid != "" {
		parent, err := s.Posts.GetComment(ctx, pid)
		if errors.Is(err, storage.ErrNotFound) || err == nil && (parent.PostID != p.ID || parent.ParentID != "") {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("parent_comment_id: no such top-level comment on this post"))
		}
		if err != nil {
			return nil, s.unavailable(ctx, "get comment", err)
		}
	}
	id, err := newID()
	if err != nil {
		return nil, s.unavailable(ctx, "new id", err)
	}
	c := post.Comment{ID: id, PostID: p.ID, AuthorID: caller, ParentID: m.GetParentCommentId(), Text: m.GetText(), CreatedAt: s.now()}
	err = s.Posts.AddComment(ctx, c)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errNoPost
	}
	if err != nil {
		return nil, s.unavailable(ctx, "add comment", err)
	}
	s.publish(ctx, event.New(event.Commented, caller, p.AuthorID, p.ID, c.CreatedAt))
	out, err := s.comments(ctx, []post.Comment{c})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.CreateCommentResponse{Comment: out[0]}), nil
}

func (s *Service) comments(ctx context.Context, cs []post.Comment) ([]*postv1.Comment, error) {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.AuthorID
	}
	ps, err := s.Profiles.GetMany(ctx, dedupe(ids))
	if err != nil {
		return nil, s.unavailable(ctx, "get profiles", err)
	}
	byID := make(map[string]profile.Profile, len(ps))
	for _, p := range ps {
		byID[p.UserID] = p
	}
	out := make([]*postv1.Comment, len(cs))
	for i, c := range cs {
		out[i] = &postv1.Comment{
			CommentId: c.ID, PostId: c.PostID, AuthorId: c.AuthorID, ParentCommentId: c.ParentID, Text: c.Text,
			CreatedAt: timestamppb.New(c.CreatedAt), Author: summary(byID[c.AuthorID], c.AuthorID),
		}
	}
	return out, nil
}

// DeleteComment deletes a comment (and its replies); the comment's author
// and the post's author may. A comment that is gone succeeds.
func (s *Service) DeleteComment(ctx context.Context, req *connect.Request[postv1.DeleteCommentRequest]) (*connect.Response[postv1.DeleteCommentResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID("comment_id", req.Msg.GetCommentId()); err != nil {
		return nil, err
	}
	c, err := s.Posts.GetComment(ctx, req.Msg.GetCommentId())
	if errors.Is(err, storage.ErrNotFound) {
		return connect.NewResponse(&postv1.DeleteCommentResponse{}), nil
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get comment", err)
	}
	if c.AuthorID != caller {
		p, _, err := s.visiblePost(ctx, c.PostID)
		if err != nil {
			return nil, err
		}
		if p.AuthorID != caller {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only the comment's author or the post's author may delete it"))
		}
	}
	if _, err := s.Posts.DeleteComment(ctx, c.ID); err != nil {
		return nil, s.unavailable(ctx, "delete comment", err)
	}
	return connect.NewResponse(&postv1.DeleteCommentResponse{}), nil
}

// ListComments lists a visible post's comments, oldest first.
func (s *Service) ListComments(ctx context.Context, req *connect.Request[postv1.ListCommentsRequest]) (*connect.Response[postv1.ListCommentsResponse], error) {
	n, err := apierr.PageSize(req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	p, _, err := s.visiblePost(ctx, req.Msg.GetPostId())
	if err != nil {
		return nil, err
	}
	cs, next, err := s.Posts.Comments(ctx, p.ID, req.Msg.GetPageToken(), n)
	if err != nil {
		return nil, pageErr(s, ctx, "list comments", err)
	}
	out, err := s.comments(ctx, cs)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.ListCommentsResponse{Comments: out, NextPageToken: next}), nil
}

// ListPostsByHashtag lists the visible posts with a hashtag, newest first.
// Hidden posts are skipped, so a page can be shorter than page_size while
// next_page_token goes on.
func (s *Service) ListPostsByHashtag(ctx context.Context, req *connect.Request[postv1.ListPostsByHashtagRequest]) (*connect.Response[postv1.ListPostsByHashtagResponse], error) {
	viewer, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	tag := post.NormalizeHashtag(req.Msg.GetHashtag())
	if tag == "" {
		return nil, invalid("hashtag", "must be a hashtag (letters, digits and '_', at least one letter)")
	}
	n, err := apierr.PageSize(req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	ps, next, err := s.Posts.ByHashtag(ctx, tag, req.Msg.GetPageToken(), n)
	if err != nil {
		return nil, pageErr(s, ctx, "list by hashtag", err)
	}
	out, err := s.VisibleHydrated(ctx, viewer, ps)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.ListPostsByHashtagResponse{Posts: out, NextPageToken: next}), nil
}

// VisibleHydrated keeps the posts viewer ("" for anonymous) may see and
// hydrates them (author, mentions, counts, viewer state), in order, reading
// each author's profile once for both steps. The feed uses it as its
// read-time line of defence.
func (s *Service) VisibleHydrated(ctx context.Context, viewer string, ps []post.Post) ([]*postv1.Post, error) {
	visible, a, err := s.filterAudience(ctx, viewer, ps)
	if err != nil {
		return nil, err
	}
	return s.hydrateKnown(ctx, viewer, visible, a.profiles)
}

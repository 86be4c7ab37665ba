// Package userapi is the UserService Connect handler: profiles and user
// search (service.go) and the relationship graph — follows, follow requests,
// friends, blocks, mutes, suggestions (relationships.go). It validates
// requests, checks who may do what, calls the profile and graph store ports,
// publishes graph events, and turns errors into Connect codes here and only
// here. DeleteAccount is not built yet and answers `unimplemented`.
package userapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Request limits.
const (
	// MaxBioRunes is the longest biography, in characters (user.proto: "at most 300 characters").
	MaxBioRunes = 300
	// MaxAvatarMediaIDLen is the longest avatar media ID, in bytes.
	MaxAvatarMediaIDLen = 64
	// MaxQueryRunes is the longest search query, in characters.
	MaxQueryRunes = 100
	// maxLookupLen bounds user_id and handle in GetProfile.
	maxLookupLen = 128
)

// Service implements UserService. DeleteAccount answers `unimplemented`
// (inherited).
type Service struct {
	userv1connect.UnimplementedUserServiceHandler
	Profiles profile.Store
	Graph    graph.Store
	// Posts fills post_count; nil leaves it zero.
	Posts post.Store
	// Events receives follow, friend and block events; nil drops them.
	Events event.Publisher
	Log    *slog.Logger
}

var _ userv1connect.UserServiceHandler = (*Service)(nil)

// GetProfile returns a profile by user ID or by handle (case-insensitive,
// an optional leading "@" ignored), with its counters. It works anonymously;
// a signed-in caller blocked by the user gets not_found.
func (s *Service) GetProfile(ctx context.Context, req *connect.Request[userv1.GetProfileRequest]) (*connect.Response[userv1.GetProfileResponse], error) {
	var (
		p   profile.Profile
		err error
	)
	switch l := req.Msg.GetLookup().(type) {
	case *userv1.GetProfileRequest_UserId:
		id := l.UserId
		if id == "" || len(id) > maxLookupLen {
			return nil, invalid("user_id", "is required and at most 128 bytes")
		}
		p, err = s.Profiles.Get(ctx, id)
	case *userv1.GetProfileRequest_Handle:
		h := strings.TrimPrefix(l.Handle, "@")
		if h == "" || len(h) > maxLookupLen {
			return nil, invalid("handle", "is required and at most 128 bytes")
		}
		p, err = s.Profiles.GetByHandle(ctx, h)
	default:
		return nil, invalid("user_id", "or handle is required")
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get profile", err)
	}
	if c, ok := auth.CallerFrom(ctx); ok && c.UserID != p.UserID {
		r, err := s.relate(ctx, c.UserID, p.UserID)
		if err != nil {
			return nil, err
		}
		if r.BlockedBy {
			return nil, errNoUser
		}
	}
	out, err := s.withCounts(ctx, []profile.Profile{p})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.GetProfileResponse{Profile: out[0]}), nil
}

// UpdateProfile changes the caller's own profile; only the fields set in the
// request change. It needs an authenticated caller.
func (s *Service) UpdateProfile(ctx context.Context, req *connect.Request[userv1.UpdateProfileRequest]) (*connect.Response[userv1.UpdateProfileResponse], error) {
	caller, ok := auth.CallerFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in to update your profile"))
	}
	m := req.Msg
	var errs []error
	if m.DisplayName != nil {
		if strings.TrimSpace(m.GetDisplayName()) == "" {
			errs = append(errs, &auth.FieldError{Field: "display_name", Reason: "must not be empty"})
		} else {
			errs = append(errs, auth.ValidateDisplayName(m.GetDisplayName()))
		}
	}
	if m.Bio != nil {
		errs = append(errs, validateBio(m.GetBio()))
	}
	if m.AvatarMediaId != nil {
		errs = append(errs, validateAvatarMediaID(m.GetAvatarMediaId()))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	// The target is always the caller: the request has no user field.
	p, err := s.Profiles.Update(ctx, caller.UserID, profile.Update{
		DisplayName:   m.DisplayName,
		Bio:           m.Bio,
		AvatarMediaID: m.AvatarMediaId,
		IsPrivate:     m.IsPrivate,
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("your profile does not exist"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "update profile", err)
	}
	if m.IsPrivate != nil {
		// The graph keeps its own copy of the flag, so that Follow decides
		// follow-or-request atomically; going public approves pending
		// requests. A failure here leaves the profile updated: the client's
		// retry converges (PutUser is idempotent).
		now := time.Now() // the approved follows' time and their events' (graph.WithTime)
		approved, err := s.Graph.PutUser(graph.WithTime(ctx, now), caller.UserID, p.IsPrivate)
		if err != nil {
			return nil, s.unavailable(ctx, "update graph privacy", err)
		}
		for _, f := range approved {
			s.publish(ctx, event.New(event.Followed, f, caller.UserID, "", now))
		}
	}
	out, err := s.withCounts(ctx, []profile.Profile{p})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.UpdateProfileResponse{Profile: out[0]}), nil
}

// SearchUsers finds users by handle and display name, best matches first,
// a page at a time. It works anonymously.
func (s *Service) SearchUsers(ctx context.Context, req *connect.Request[userv1.SearchUsersRequest]) (*connect.Response[userv1.SearchUsersResponse], error) {
	m := req.Msg
	q := strings.TrimSpace(m.GetQuery())
	var errs []error
	switch {
	case q == "":
		errs = append(errs, &auth.FieldError{Field: "query", Reason: "is required"})
	case !utf8.ValidString(q) || utf8.RuneCountInString(q) > MaxQueryRunes:
		errs = append(errs, &auth.FieldError{Field: "query", Reason: fmt.Sprintf("must be at most %d characters", MaxQueryRunes)})
	}
	size, perr := apierr.PageSize(m.GetPageSize(), m.GetPageToken())
	if perr != nil {
		errs = append(errs, errors.Unwrap(perr))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	ps, next, err := s.Profiles.Search(ctx, q, size, m.GetPageToken())
	if err != nil && err.Error() == "invalid cursor" {
		return nil, invalid("page_token", "is invalid (it must come from a previous response to the same query)")
	}
	if err != nil {
		return nil, s.unavailable(ctx, "search profiles", err)
	}
	if c, ok := auth.CallerFrom(ctx); ok {
		if ps, err = s.notBlocking(ctx, c.UserID, ps); err != nil {
			return nil, err
		}
	}
	users, err := s.withCounts(ctx, ps)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&userv1.SearchUsersResponse{Users: users, NextPageToken: next}), nil
}

// notBlocking leaves out the profiles of users who block caller (one
// batched graph read).
func (s *Service) notBlocking(ctx context.Context, caller string, ps []profile.Profile) ([]profile.Profile, error) {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.UserID
	}
	rels, err := s.Graph.Relationships(ctx, caller, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "relationships", err)
	}
	out := ps[:0:0]
	for _, p := range ps {
		if !rels[p.UserID].BlockedBy {
			out = append(out, p)
		}
	}
	return out, nil
}

// validateBio: at most MaxBioRunes characters of valid UTF-8, no NUL.
func validateBio(bio string) error {
	if !utf8.ValidString(bio) {
		return &auth.FieldError{Field: "bio", Reason: "must be valid UTF-8"}
	}
	if utf8.RuneCountInString(bio) > MaxBioRunes {
		return &auth.FieldError{Field: "bio", Reason: fmt.Sprintf("must be at most %d characters", MaxBioRunes)}
	}
	if strings.IndexByte(bio, 0) >= 0 {
		return &auth.FieldError{Field: "bio", Reason: "must not contain NUL characters"}
	}
	return nil
}

// validateAvatarMediaID: empty (clears the avatar) or at most
// MaxAvatarMediaIDLen characters of ASCII letters, digits, '-' and '_'.
func validateAvatarMediaID(id string) error {
	if len(id) > MaxAvatarMediaIDLen {
		return &auth.FieldError{Field: "avatar_media_id", Reason: fmt.Sprintf("must be at most %d characters", MaxAvatarMediaIDLen)}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return &auth.FieldError{Field: "avatar_media_id", Reason: "may contain only letters, digits, '-' and '_'"}
		}
	}
	return nil
}

// toProto converts a stored profile without counters (see withCounts; the
// post count arrives with the post store).
func toProto(p profile.Profile) *userv1.Profile {
	out := &userv1.Profile{
		UserId:        p.UserID,
		Handle:        p.Handle,
		DisplayName:   p.DisplayName,
		Bio:           p.Bio,
		AvatarMediaId: p.AvatarMediaID,
		IsPrivate:     p.IsPrivate,
	}
	if !p.CreatedAt.IsZero() {
		out.CreatedAt = timestamppb.New(p.CreatedAt)
	}
	return out
}

func invalid(field, reason string) error { return apierr.Invalid(field, reason) }

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

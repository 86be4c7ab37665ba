// Package notificationapi is the NotificationService Connect handler: the
// caller's inbox (grouped, newest first, keyset pages, unread count), read
// marks, the live stream and the preferences. It validates requests,
// presents notifications (notification.Present: blocked and muted actors
// hidden, profiles and summary text) and turns errors into Connect codes
// here and only here.
package notificationapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/ejazz/ejazz/gen/ejazz/notification/v1"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Limits.
const (
	// MaxMarkIDs is how many notification IDs one MarkRead may name.
	MaxMarkIDs = 100
	maxIDLen   = 64
	// DefaultKeepAlive is the interval of unread_count-only messages on an
	// idle stream.
	DefaultKeepAlive = 15 * time.Second
)

// Service implements NotificationService.
type Service struct {
	notificationv1connect.UnimplementedNotificationServiceHandler
	Inbox    notification.Store
	Prefs    notification.PreferenceStore
	Graph    graph.Store
	Profiles profile.Store
	Broker   notification.Broker
	// KeepAlive is how often an idle stream gets an unread_count-only
	// message (default DefaultKeepAlive), so proxies keep it open and a
	// client notices a dead connection.
	KeepAlive time.Duration
	// Closing, when closed, ends every open stream (the process shuts down
	// and must not wait for them).
	Closing <-chan struct{}
	Log     *slog.Logger
}

var _ notificationv1connect.NotificationServiceHandler = (*Service)(nil)

var kindToProto = map[notification.Kind]notificationv1.NotificationKind{
	notification.Like:           notificationv1.NotificationKind_NOTIFICATION_KIND_LIKE,
	notification.Comment:        notificationv1.NotificationKind_NOTIFICATION_KIND_COMMENT,
	notification.Follow:         notificationv1.NotificationKind_NOTIFICATION_KIND_FOLLOW,
	notification.FollowRequest:  notificationv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_REQUEST,
	notification.Repost:         notificationv1.NotificationKind_NOTIFICATION_KIND_REPOST,
	notification.Quote:          notificationv1.NotificationKind_NOTIFICATION_KIND_QUOTE,
	notification.Mention:        notificationv1.NotificationKind_NOTIFICATION_KIND_MENTION,
	notification.FriendRequest:  notificationv1.NotificationKind_NOTIFICATION_KIND_FRIEND_REQUEST,
	notification.FriendAccepted: notificationv1.NotificationKind_NOTIFICATION_KIND_FRIEND_ACCEPTED,
}

var kindFromProto = func() map[notificationv1.NotificationKind]notification.Kind {
	out := map[notificationv1.NotificationKind]notification.Kind{}
	for k, v := range kindToProto {
		out[v] = k
	}
	return out
}()

func signedIn(ctx context.Context) (string, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	return c.UserID, nil
}

func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	return apierr.Unavailable(ctx, s.Log, what, err)
}

// ListNotifications lists the caller's notifications, newest first.
func (s *Service) ListNotifications(ctx context.Context, req *connect.Request[notificationv1.ListNotificationsRequest]) (*connect.Response[notificationv1.ListNotificationsResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	size, err := apierr.PageSize(req.Msg.GetPageSize(), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	ns, next, err := s.Inbox.List(ctx, caller, req.Msg.GetPageToken(), size, req.Msg.GetUnreadOnly())
	if errors.Is(err, notification.ErrBadCursor) {
		return nil, apierr.Invalid("page_token", "is invalid (it must come from a previous response)")
	}
	if err != nil {
		return nil, s.unavailable(ctx, "list notifications", err)
	}
	shown, err := notification.Present(ctx, s.Graph, s.Profiles, caller, ns)
	if err != nil {
		return nil, s.unavailable(ctx, "present notifications", err)
	}
	unread, err := s.Inbox.UnreadCount(ctx, caller)
	if err != nil {
		return nil, s.unavailable(ctx, "unread count", err)
	}
	out := &notificationv1.ListNotificationsResponse{UnreadCount: int32(unread), NextPageToken: next}
	for _, n := range shown {
		out.Notifications = append(out.Notifications, toProto(n))
	}
	return connect.NewResponse(out), nil
}

// MarkRead marks the listed notifications, or all, read.
func (s *Service) MarkRead(ctx context.Context, req *connect.Request[notificationv1.MarkReadRequest]) (*connect.Response[notificationv1.MarkReadResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	ids, all := req.Msg.GetNotificationIds(), req.Msg.GetAll()
	switch {
	case all && len(ids) > 0:
		return nil, apierr.Invalid("notification_ids", "must be empty when all is set")
	case !all && len(ids) == 0:
		return nil, apierr.Invalid("notification_ids", "must name at least one notification (or set all)")
	case len(ids) > MaxMarkIDs:
		return nil, apierr.Invalid("notification_ids", fmt.Sprintf("must name at most %d notifications", MaxMarkIDs))
	}
	for _, id := range ids {
		if id == "" || len(id) > maxIDLen {
			return nil, apierr.Invalid("notification_ids", "must hold IDs of at most 64 bytes")
		}
	}
	if all {
		err = s.Inbox.MarkAllRead(ctx, caller)
	} else {
		err = s.Inbox.MarkRead(ctx, caller, ids)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such notification (nothing was marked)"))
	}
	if err != nil {
		return nil, s.unavailable(ctx, "mark read", err)
	}
	return connect.NewResponse(&notificationv1.MarkReadResponse{}), nil
}

// StreamNotifications streams the caller's new notifications until the
// client goes away (or the process shuts down). The first message carries
// only the unread count: the stream is open from then on.
func (s *Service) StreamNotifications(ctx context.Context, _ *connect.Request[notificationv1.StreamNotificationsRequest], stream *connect.ServerStream[notificationv1.StreamNotificationsResponse]) error {
	caller, err := signedIn(ctx)
	if err != nil {
		return err
	}
	updates, cancel, err := s.Broker.Subscribe(ctx, caller)
	if errors.Is(err, notification.ErrTooManyStreams) {
		return connect.NewError(connect.CodeResourceExhausted, errors.New("too many open notification streams; close one first"))
	}
	if err != nil {
		return s.unavailable(ctx, "subscribe to notifications", err)
	}
	defer cancel()
	unread, err := s.Inbox.UnreadCount(ctx, caller)
	if err != nil {
		return s.unavailable(ctx, "unread count", err)
	}
	if err := stream.Send(&notificationv1.StreamNotificationsResponse{UnreadCount: int32(unread)}); err != nil {
		return nil // the client is gone
	}
	every := s.KeepAlive
	if every <= 0 {
		every = DefaultKeepAlive
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var msg *notificationv1.StreamNotificationsResponse
		select {
		case <-ctx.Done():
			return nil
		case <-s.Closing:
			return nil
		case <-tick.C:
			if n, err := s.Inbox.UnreadCount(ctx, caller); err == nil {
				unread = n
			}
			msg = &notificationv1.StreamNotificationsResponse{UnreadCount: int32(unread)}
		case u, ok := <-updates:
			if !ok {
				return nil
			}
			shown, err := notification.Present(ctx, s.Graph, s.Profiles, caller, []notification.Notification{u.Notification})
			if err != nil {
				s.log().WarnContext(ctx, "present a streamed notification", "err", err)
				continue
			}
			if len(shown) == 0 {
				continue // every actor hidden from the caller
			}
			unread = u.UnreadCount
			msg = &notificationv1.StreamNotificationsResponse{Notification: toProto(shown[0]), UnreadCount: int32(unread)}
		}
		if err := stream.Send(msg); err != nil {
			return nil // the client is gone
		}
	}
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// GetPreferences returns the caller's preferences, every kind listed.
func (s *Service) GetPreferences(ctx context.Context, _ *connect.Request[notificationv1.GetPreferencesRequest]) (*connect.Response[notificationv1.GetPreferencesResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.Prefs.Preferences(ctx, caller)
	if err != nil {
		return nil, s.unavailable(ctx, "get preferences", err)
	}
	return connect.NewResponse(&notificationv1.GetPreferencesResponse{Preferences: prefsToProto(p)}), nil
}

// UpdatePreferences changes the kinds listed and, unless UNSPECIFIED, the
// digest frequency.
func (s *Service) UpdatePreferences(ctx context.Context, req *connect.Request[notificationv1.UpdatePreferencesRequest]) (*connect.Response[notificationv1.UpdatePreferencesResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetPreferences()
	if in == nil {
		return nil, apierr.Invalid("preferences", "is required")
	}
	change := notification.Change{Kinds: map[notification.Kind]notification.KindPreference{}}
	for i, kp := range in.GetKinds() {
		field := fmt.Sprintf("preferences.kinds[%d].kind", i)
		k, ok := kindFromProto[kp.GetKind()]
		if !ok {
			return nil, apierr.Invalid(field, "must be a notification kind (not UNSPECIFIED)")
		}
		if _, dup := change.Kinds[k]; dup {
			return nil, apierr.Invalid(field, "is listed twice")
		}
		change.Kinds[k] = notification.KindPreference{InApp: kp.GetInApp(), Email: kp.GetEmail()}
	}
	freq := notification.Frequency(in.GetEmailDigestFrequency())
	if freq != notification.FrequencyUnset && !freq.Valid() {
		return nil, apierr.Invalid("preferences.email_digest_frequency", "must be NEVER, IMMEDIATE, DAILY, WEEKLY or UNSPECIFIED (unchanged)")
	}
	change.Digest = freq
	p, err := s.Prefs.UpdatePreferences(ctx, caller, change)
	if err != nil {
		return nil, s.unavailable(ctx, "update preferences", err)
	}
	return connect.NewResponse(&notificationv1.UpdatePreferencesResponse{Preferences: prefsToProto(p)}), nil
}

func toProto(n notification.Shown) *notificationv1.Notification {
	out := &notificationv1.Notification{
		NotificationId: n.ID,
		Kind:           kindToProto[n.Kind],
		ActorCount:     int32(n.Count),
		PostId:         n.PostID,
		CreatedAt:      timestamppb.New(n.At),
		Read:           n.Read,
		Summary:        n.Summary,
	}
	for _, p := range n.Profiles {
		out.Actors = append(out.Actors, &userv1.UserSummary{UserId: p.UserID, Handle: p.Handle, DisplayName: p.DisplayName, AvatarMediaId: p.AvatarMediaID})
	}
	return out
}

func prefsToProto(p notification.Preferences) *notificationv1.NotificationPreferences {
	out := &notificationv1.NotificationPreferences{EmailDigestFrequency: notificationv1.EmailDigestFrequency(p.Digest)}
	for _, k := range notification.Kinds {
		kp := p.Kind(k)
		out.Kinds = append(out.Kinds, &notificationv1.KindPreference{Kind: kindToProto[k], InApp: kp.InApp, Email: kp.Email})
	}
	return out
}

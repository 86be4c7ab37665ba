package edge

import (
	"net/http"
	"sort"

	"connectrpc.com/connect"

	"github.com/ejazz/ejazz/gen/ejazz/analytics/v1/analyticsv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/media/v1/mediav1connect"
	"github.com/ejazz/ejazz/gen/ejazz/notification/v1/notificationv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
)

// Service is one Connect service the edge can serve.
type Service struct {
	// Name is the short name used on the command line (`ejazz serve auth`).
	Name string
	// FullName is the protobuf service name (for health and reflection).
	FullName string
	// Handler mounts the service; it returns the path prefix and handler.
	Handler func(opts ...connect.HandlerOption) (string, http.Handler)
}

// Handlers are the implementations of each service. A nil field serves the
// generated Unimplemented handler: every RPC answers `unimplemented` until its
// feature lands.
type Handlers struct {
	Auth         authv1connect.AuthServiceHandler
	User         userv1connect.UserServiceHandler
	Post         postv1connect.PostServiceHandler
	Feed         feedv1connect.FeedServiceHandler
	Media        mediav1connect.MediaServiceHandler
	Notification notificationv1connect.NotificationServiceHandler
	Analytics    analyticsv1connect.AnalyticsServiceHandler
}

func or[T any](v T, isNil bool, def T) T {
	if isNil {
		return def
	}
	return v
}

// Services returns every public service with h's implementations.
func Services(h Handlers) []Service {
	auth := or(h.Auth, h.Auth == nil, authv1connect.AuthServiceHandler(authv1connect.UnimplementedAuthServiceHandler{}))
	user := or(h.User, h.User == nil, userv1connect.UserServiceHandler(userv1connect.UnimplementedUserServiceHandler{}))
	post := or(h.Post, h.Post == nil, postv1connect.PostServiceHandler(postv1connect.UnimplementedPostServiceHandler{}))
	feed := or(h.Feed, h.Feed == nil, feedv1connect.FeedServiceHandler(feedv1connect.UnimplementedFeedServiceHandler{}))
	media := or(h.Media, h.Media == nil, mediav1connect.MediaServiceHandler(mediav1connect.UnimplementedMediaServiceHandler{}))
	notif := or(h.Notification, h.Notification == nil, notificationv1connect.NotificationServiceHandler(notificationv1connect.UnimplementedNotificationServiceHandler{}))
	an := or(h.Analytics, h.Analytics == nil, analyticsv1connect.AnalyticsServiceHandler(analyticsv1connect.UnimplementedAnalyticsServiceHandler{}))
	return []Service{
		{"auth", authv1connect.AuthServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return authv1connect.NewAuthServiceHandler(auth, o...)
		}},
		{"user", userv1connect.UserServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return userv1connect.NewUserServiceHandler(user, o...)
		}},
		{"post", postv1connect.PostServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return postv1connect.NewPostServiceHandler(post, o...)
		}},
		{"feed", feedv1connect.FeedServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return feedv1connect.NewFeedServiceHandler(feed, o...)
		}},
		{"media", mediav1connect.MediaServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return mediav1connect.NewMediaServiceHandler(media, o...)
		}},
		{"notification", notificationv1connect.NotificationServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return notificationv1connect.NewNotificationServiceHandler(notif, o...)
		}},
		{"analytics", analyticsv1connect.AnalyticsServiceName, func(o ...connect.HandlerOption) (string, http.Handler) {
			return analyticsv1connect.NewAnalyticsServiceHandler(an, o...)
		}},
	}
}

// ServiceNames lists the short names, sorted.
func ServiceNames() []string {
	var out []string
	for _, s := range Services(Handlers{}) {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

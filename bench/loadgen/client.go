package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/ejazz/ejazz/gen/ejazz/auth/v1"
	"github.com/ejazz/ejazz/gen/ejazz/auth/v1/authv1connect"
	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
)

// Clients are the public API's Connect clients on one HTTP client.
type Clients struct {
	Auth authv1connect.AuthServiceClient
	Feed feedv1connect.FeedServiceClient
	Post postv1connect.PostServiceClient
}

// NewClients dials target (e.g. http://127.0.0.1:8080) with keep-alive
// connections for up to conns requests at once.
func NewClients(target string, conns int) *Clients {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	hc := &http.Client{Transport: tr}
	return &Clients{
		Auth: authv1connect.NewAuthServiceClient(hc, target),
		Feed: feedv1connect.NewFeedServiceClient(hc, target),
		Post: postv1connect.NewPostServiceClient(hc, target),
	}
}

// codeOf names err's Connect code ("" for nil).
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.CodeDeadlineExceeded.String()
	}
	return connect.CodeOf(err).String()
}

// Session is a signed-in seeded user; its access token is refreshed before
// it expires.
type Session struct {
	User    int
	access  atomic.Pointer[string]
	refresh string
	// expires and lifetime are of the current access token.
	expires  time.Time
	lifetime time.Duration
}

// Token returns the current access token.
func (s *Session) Token() string { return *s.access.Load() }

// authed returns a request carrying s's bearer token.
func authed[T any](s *Session, msg *T) *connect.Request[T] {
	r := connect.NewRequest(msg)
	r.Header().Set("Authorization", "Bearer "+s.Token())
	return r
}

// SignInResult counts the sign-ins.
type SignInResult struct {
	OK     int              `json:"ok"`
	Errors map[string]int64 `json:"errors"`
	// FirstError is the first failure's message.
	FirstError string        `json:"first_error,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

// SignIn signs the users in with up to workers sign-ins at once (each costs
// the server an argon2id verification). It returns the sessions that
// succeeded, in the order of users.
func SignIn(ctx context.Context, c *Clients, all []User, users []int, workers int, timeout time.Duration) ([]*Session, SignInResult) {
	start := time.Now()
	res := SignInResult{Errors: map[string]int64{}}
	out := make([]*Session, len(users))
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(users) {
					return
				}
				u := all[users[k]]
				cctx, cancel := context.WithTimeout(ctx, timeout)
				resp, err := c.Auth.SignIn(cctx, connect.NewRequest(&authv1.SignInRequest{Identifier: u.Handle, Password: u.Password}))
				cancel()
				mu.Lock()
				if err != nil {
					res.Errors[codeOf(err)]++
					if res.FirstError == "" {
						res.FirstError = fmt.Sprintf("@%s: %v", u.Handle, err)
					}
				} else {
					life := time.Duration(resp.Msg.GetExpiresIn()) * time.Second
					s := &Session{User: users[k], refresh: resp.Msg.GetRefreshToken(), expires: time.Now().Add(life), lifetime: life}
					tok := resp.Msg.GetAccessToken()
					s.access.Store(&tok)
					out[k] = s
					res.OK++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sessions := make([]*Session, 0, res.OK)
	for _, s := range out {
		if s != nil {
			sessions = append(sessions, s)
		}
	}
	return sessions, res
}

// KeepFresh refreshes every session's access token when less than a third
// of its lifetime is left, until ctx ends. Failures keep the old token (the
// calls then fail with unauthenticated, which the report shows).
func KeepFresh(ctx context.Context, c *Clients, sessions []*Session, timeout time.Duration) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range sessions {
			if time.Until(s.expires) > s.lifetime/3 {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			resp, err := c.Auth.RefreshToken(cctx, connect.NewRequest(&authv1.RefreshTokenRequest{RefreshToken: s.refresh}))
			cancel()
			if err != nil {
				continue
			}
			tok := resp.Msg.GetAccessToken()
			s.access.Store(&tok)
			s.refresh = resp.Msg.GetRefreshToken()
			s.lifetime = time.Duration(resp.Msg.GetExpiresIn()) * time.Second
			s.expires = time.Now().Add(s.lifetime)
		}
	}
}

// homeTimeline fetches the first page of s's home timeline.
func homeTimeline(ctx context.Context, c *Clients, s *Session) (*feedv1.GetHomeTimelineResponse, error) {
	resp, err := c.Feed.GetHomeTimeline(ctx, authed(s, &feedv1.GetHomeTimelineRequest{PageSize: 20}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// userTimeline fetches the first page of userID's timeline as s.
func userTimeline(ctx context.Context, c *Clients, s *Session, userID string) error {
	_, err := c.Feed.GetUserTimeline(ctx, authed(s, &feedv1.GetUserTimelineRequest{UserId: userID, PageSize: 20}))
	return err
}

// createPost posts text publicly as s and returns the post's ID.
func createPost(ctx context.Context, c *Clients, s *Session, text, key string) (string, error) {
	resp, err := c.Post.CreatePost(ctx, authed(s, &postv1.CreatePostRequest{
		Text: text, Visibility: postv1.Visibility_VISIBILITY_PUBLIC, IdempotencyKey: key,
	}))
	if err != nil {
		return "", err
	}
	return resp.Msg.GetPost().GetPostId(), nil
}

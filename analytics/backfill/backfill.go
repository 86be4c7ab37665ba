// Package backfill rebuilds analytics events from the stores of record —
// sign-ups from accounts, posts (with the hashtags of public ones), quotes
// and mentions, likes, reposts and comments with their times, follows, and
// completed media uploads with their bytes — and inserts them into the
// analytics store (`ejazz analytics backfill`).
//
// Every event gets the ID the live path gives it: the same constructor
// (event.New, NewOnce, NewMedia) over the same fields and the time the store
// kept, which is the time the live event carried (the post service and the
// graph store record the event's time, to the millisecond and nanosecond).
// The analytics store counts an ID once, so a backfill over live data, or
// a second backfill, changes no figure; it restores what never reached the
// store (events lost with a process, history from before analytics).
//
// What the stores no longer hold cannot come back: unlikes, unfollows,
// deleted posts and their engagement, sign-ins and timeline views. Mentions
// are rebuilt for posts never edited only (an edit's new mentions were
// published at the edit's time, which the store does not keep).
package backfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/post"
)

// Sources are the stores of record; a nil one is skipped.
type Sources struct {
	Accounts account.Store
	Posts    post.Store
	Graph    graph.Store
	Media    media.Store
}

// Options tune a run; zero values take the defaults.
type Options struct {
	// BatchSize bounds one page of a scan and one insert (default 10,000).
	BatchSize int
	// Since and Until bound the events kept to [Since, Until) (zero: no
	// bound).
	Since, Until time.Time
	// Progress, when set, is called after every insert with the totals so far.
	Progress func(Progress)
}

// Progress is where a run stands.
type Progress struct {
	// Source is the store being read: accounts, posts, engagement,
	// comments, follows or media.
	Source string
	// Rows read from the stores and Events handed to the analytics store
	// so far (repeats of stored events included: the store drops them).
	Rows, Events int64
}

// Stats is what a run did, per source and in total.
type Stats struct {
	Rows, Events map[string]int64
	Elapsed      time.Duration
}

// TotalEvents sums Events.
func (s Stats) TotalEvents() int64 {
	var n int64
	for _, v := range s.Events {
		n += v
	}
	return n
}

// run is one backfill's state.
type run struct {
	ctx   context.Context
	src   Sources
	sink  analytics.Sink
	o     Options
	batch []event.Event
	stats Stats
	cur   Progress
}

// Run reads every source, oldest kinds of fact first, and inserts their
// events into sink in batches.
func Run(ctx context.Context, src Sources, sink analytics.Sink, o Options) (Stats, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 10_000
	}
	r := &run{ctx: ctx, src: src, sink: sink, o: o, stats: Stats{Rows: map[string]int64{}, Events: map[string]int64{}}}
	start := time.Now()
	steps := []struct {
		name string
		skip bool
		do   func() error
	}{
		{"accounts", src.Accounts == nil, r.accounts},
		{"posts", src.Posts == nil, r.posts},
		{"engagement", src.Posts == nil, r.engagement},
		{"comments", src.Posts == nil, r.comments},
		{"follows", src.Graph == nil, r.follows},
		{"media", src.Media == nil, r.media},
	}
	for _, s := range steps {
		if s.skip {
			continue
		}
		r.cur = Progress{Source: s.name}
		if err := s.do(); err != nil {
			return r.stats, fmt.Errorf("backfill %s: %w", s.name, err)
		}
		if err := r.flush(); err != nil {
			return r.stats, fmt.Errorf("backfill %s: %w", s.name, err)
		}
		r.stats.Rows[s.name], r.stats.Events[s.name] = r.cur.Rows, r.cur.Events
	}
	r.stats.Elapsed = time.Since(start)
	return r.stats, nil
}

// add queues an event (when in [Since, Until)), inserting full batches.
func (r *run) add(e event.Event) error {
	if e.At.Before(r.o.Since) || !r.o.Until.IsZero() && !e.At.Before(r.o.Until) {
		return nil
	}
	r.batch = append(r.batch, e)
	if len(r.batch) >= r.o.BatchSize {
		return r.flush()
	}
	return nil
}

func (r *run) flush() error {
	if len(r.batch) == 0 {
		return nil
	}
	if err := r.sink.Insert(r.ctx, r.batch); err != nil {
		return err
	}
	r.cur.Events += int64(len(r.batch))
	r.batch = r.batch[:0]
	if r.o.Progress != nil {
		r.o.Progress(r.cur)
	}
	return nil
}

// scan pages through a source until its cursor ends.
func scan[T any](r *run, page func(cursor string, limit int) ([]T, string, error), each func([]T) error) error {
	cursor := ""
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		items, next, err := page(cursor, r.o.BatchSize)
		if err != nil {
			return err
		}
		r.cur.Rows += int64(len(items))
		if err := each(items); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// accounts: one sign-up per account, at its creation (event.NewOnce: the
// ID is the user's whatever the time).
func (r *run) accounts() error {
	return scan(r, func(c string, n int) ([]account.Account, string, error) {
		return r.src.Accounts.ScanAccounts(r.ctx, c, n)
	},
		func(as []account.Account) error {
			for _, a := range as {
				if err := r.add(event.NewOnce(event.SignedUp, a.ID, a.CreatedAt)); err != nil {
					return err
				}
			}
			return nil
		})
}

// posts: what CreatePost publishes — the post (public ones with their
// hashtags), the quote (subject: the quoted post's author) and the mentions.
func (r *run) posts() error {
	return scan(r, func(c string, n int) ([]post.Post, string, error) { return r.src.Posts.ScanPosts(r.ctx, c, n) },
		func(ps []post.Post) error {
			var quoted []string
			for _, p := range ps {
				if p.QuotePostID != "" {
					quoted = append(quoted, p.QuotePostID)
				}
			}
			authors, err := r.authors(quoted)
			if err != nil {
				return err
			}
			for _, p := range ps {
				created := event.New(event.PostCreated, p.AuthorID, "", p.ID, p.CreatedAt)
				if p.Visibility == post.Public {
					created.Hashtags = strings.Join(p.Hashtags, " ")
				}
				evs := []event.Event{created}
				if a, ok := authors[p.QuotePostID]; ok && p.QuotePostID != "" {
					evs = append(evs, event.New(event.Quoted, p.AuthorID, a, p.ID, p.CreatedAt))
				}
				if p.EditedAt.IsZero() {
					for _, u := range p.Mentions {
						if u != p.AuthorID {
							evs = append(evs, event.New(event.Mentioned, p.AuthorID, u, p.ID, p.CreatedAt))
						}
					}
				}
				for _, e := range evs {
					if err := r.add(e); err != nil {
						return err
					}
				}
			}
			return nil
		})
}

// authors maps post IDs to their authors (posts gone since are left out).
func (r *run) authors(ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	ps, err := r.src.Posts.GetMany(r.ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		out[p.ID] = p.AuthorID
	}
	return out, nil
}

// engagement: a like or repost event per stored one, at its time, the
// subject being the post's author.
func (r *run) engagement() error {
	return scan(r, func(c string, n int) ([]post.EngagementRow, string, error) {
		return r.src.Posts.ScanEngagement(r.ctx, c, n)
	},
		func(es []post.EngagementRow) error {
			ids := make([]string, len(es))
			for i, e := range es {
				ids[i] = e.PostID
			}
			authors, err := r.authors(ids)
			if err != nil {
				return err
			}
			for _, e := range es {
				a, ok := authors[e.PostID]
				if !ok {
					continue
				}
				kind := event.Liked
				if e.Verb == post.Repost {
					kind = event.Reposted
				}
				if err := r.add(event.New(kind, e.UserID, a, e.PostID, e.At)); err != nil {
					return err
				}
			}
			return nil
		})
}

// comments: a comment event per comment and reply.
func (r *run) comments() error {
	return scan(r, func(c string, n int) ([]post.Comment, string, error) { return r.src.Posts.ScanComments(r.ctx, c, n) },
		func(cs []post.Comment) error {
			ids := make([]string, len(cs))
			for i, c := range cs {
				ids[i] = c.PostID
			}
			authors, err := r.authors(ids)
			if err != nil {
				return err
			}
			for _, c := range cs {
				a, ok := authors[c.PostID]
				if !ok {
					continue
				}
				if err := r.add(event.New(event.Commented, c.AuthorID, a, c.PostID, c.CreatedAt)); err != nil {
					return err
				}
			}
			return nil
		})
}

// follows: a follow event per follow, at the edge's time.
func (r *run) follows() error {
	return scan(r, func(c string, n int) ([]graph.FollowEdge, string, error) { return r.src.Graph.ScanFollows(r.ctx, c, n) },
		func(es []graph.FollowEdge) error {
			for _, e := range es {
				if err := r.add(event.New(event.Followed, e.From, e.To, "", e.At)); err != nil {
					return err
				}
			}
			return nil
		})
}

// media: an upload event per READY item with its size, at the time it
// became READY (event.NewMedia: the ID is the item's whatever the time).
func (r *run) media() error {
	return scan(r, func(c string, n int) ([]media.Media, string, error) { return r.src.Media.ScanMedia(r.ctx, c, n) },
		func(ms []media.Media) error {
			for _, m := range ms {
				if m.Status != media.Ready {
					continue
				}
				if err := r.add(event.NewMedia(event.MediaUploaded, m.OwnerID, m.ID, m.Size, m.UpdatedAt)); err != nil {
					return err
				}
			}
			return nil
		})
}

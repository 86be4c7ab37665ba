package activities

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/activity"

	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/live"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

// Fan-out job kinds.
const (
	// JobPost writes a new post into its audience's home timelines.
	JobPost = "post"
	// JobRepost writes a repost into the reposter's followers' timelines.
	JobRepost = "repost"
	// JobDelete removes a deleted post from its author's followers' timelines.
	JobDelete = "delete"
	// JobUnfollow removes an author's posts and reposts from Owner's timeline.
	JobUnfollow = "unfollow"
)

// FanoutJob is one unit of feed work, small enough to travel in signals.
type FanoutJob struct {
	Kind     string
	PostID   string `json:",omitempty"`
	AuthorID string `json:",omitempty"`
	// RepostedBy is the reposter (JobRepost).
	RepostedBy string `json:",omitempty"`
	// At is the entry's time: the post's (see EntryTime) or the repost's.
	At time.Time `json:",omitempty"`
	// Owner is whose timeline a JobUnfollow cleans.
	Owner string `json:",omitempty"`
}

// EntryTime is a post's place in timelines: the time in its UUIDv7 ID, so
// that the writer and a later delete agree on it without reading the post.
// IDs that are not UUIDv7 fall back to createdAt.
func EntryTime(postID string, createdAt time.Time) time.Time {
	if u, err := uuid.Parse(postID); err == nil && u.Version() == 7 {
		sec, nsec := u.Time().UnixTime()
		return time.Unix(sec, nsec).UTC().Truncate(time.Millisecond)
	}
	return createdAt.UTC().Truncate(time.Millisecond)
}

// Feed holds the fan-out activities.
type Feed struct {
	Graph     graph.Store
	Posts     post.Store
	Timelines timeline.Store
	// Threshold: authors with more followers than this are not fanned out
	// (their posts are merged into home timelines at read time).
	Threshold int
	// PageSize is how many followers one timeline write covers (default 1,000).
	PageSize int
	// LiveThreshold, once set, replaces Threshold (config hot reload).
	LiveThreshold live.Int
	// Lag, when set, observes each post's fan-out lag in seconds: from
	// the post's time to its timeline writes being done.
	Lag prometheus.Observer
}

// fanoutProgress is the heartbeat: the job being worked on and the follower
// cursor within it, so a retried activity resumes where the last one was.
type fanoutProgress struct {
	Job    int
	Cursor string
}

// FanOut runs jobs in order. Jobs whose audience fits in one page (most
// posts) are planned first and written together with one AddMany when the
// next job needs a full run or the batch ends; the heartbeat only moves past
// jobs whose writes are done. Timeline writes are idempotent, so resuming
// from the last heartbeat (or redoing a page) never duplicates an entry.
func (f *Feed) FanOut(ctx context.Context, jobs []FanoutJob) error {
	var p fanoutProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	var batch []timeline.Write
	var planned []time.Time // entry times of the jobs in batch, for Lag
	unflushed := p.Job      // the first job whose writes are not done
	flush := func(next int) error {
		unflushed = next
		if len(batch) > 0 {
			if err := f.Timelines.AddMany(ctx, batch); err != nil {
				return err
			}
			for _, w := range batch {
				if err := f.trim(ctx, w.Owners, w.Entry.PostID); err != nil {
					return err
				}
			}
			batch = batch[:0]
			f.observe(planned...)
			planned = planned[:0]
		}
		activity.RecordHeartbeat(ctx, fanoutProgress{Job: next})
		return nil
	}
	for i := p.Job; i < len(jobs); i++ {
		cursor := ""
		if i == p.Job {
			cursor = p.Cursor
		}
		if cursor == "" {
			ws, ok, err := f.plan(ctx, jobs[i])
			if err != nil {
				return fmt.Errorf("fan-out job %d (%s %s): %w", i, jobs[i].Kind, jobs[i].PostID, err)
			}
			if ok {
				batch = append(batch, ws...)
				if len(ws) > 0 {
					planned = append(planned, ws[0].Entry.At)
				}
				// Bound a batch, and keep heartbeating while planning
				// (without moving past unwritten jobs).
				if len(batch) >= maxBatchWrites {
					if err := flush(i + 1); err != nil {
						return err
					}
				} else {
					activity.RecordHeartbeat(ctx, fanoutProgress{Job: unflushed})
				}
				continue
			}
		}
		if err := flush(i); err != nil {
			return err
		}
		if err := f.run(ctx, i, jobs[i], cursor); err != nil {
			return fmt.Errorf("fan-out job %d (%s %s): %w", i, jobs[i].Kind, jobs[i].PostID, err)
		}
		activity.RecordHeartbeat(ctx, fanoutProgress{Job: i + 1})
	}
	return flush(len(jobs))
}

// maxBatchWrites bounds the writes FanOut gathers before one AddMany.
const maxBatchWrites = 200

// target is what a post or repost job writes: the entry, whose timelines
// (source and its followers or friends), and whom to skip.
type target struct {
	entry  timeline.Entry
	source string
	list   func(context.Context, string, string, int) (graph.Page, error)
	skip   map[string]bool
}

// resolve reads what a post or repost job needs; ok is false when there is
// nothing to write (the post is gone, or a repost of a non-public post).
// A nil list means the source's own timeline only (ONLY_ME, celebrities).
func (f *Feed) resolve(ctx context.Context, j FanoutJob) (t target, ok bool, err error) {
	p, err := f.Posts.Get(ctx, j.PostID)
	if errors.Is(err, storage.ErrNotFound) {
		return t, false, nil // deleted before its fan-out: nothing to write
	}
	if err != nil {
		return t, false, err
	}
	t.source, t.entry = p.AuthorID, timeline.Entry{PostID: p.ID, AuthorID: p.AuthorID, At: EntryTime(p.ID, p.CreatedAt)}
	t.list = f.Graph.Followers
	switch {
	case j.Kind == JobRepost:
		if p.Visibility != post.Public {
			return t, false, nil
		}
		t.source, t.entry.RepostedBy, t.entry.At = j.RepostedBy, j.RepostedBy, j.At.UTC().Truncate(time.Millisecond)
	case p.Visibility == post.Friends:
		t.list = f.Graph.Friends
	case p.Visibility == post.OnlyMe:
		t.list = nil
	}
	if t.list == nil {
		return t, true, nil
	}
	counts, err := f.Graph.Counts(ctx, []string{t.source})
	if err != nil {
		return t, false, err
	}
	if th := f.LiveThreshold.Get(f.Threshold); th > 0 && counts[t.source].Followers > int64(th) {
		t.list = nil // a celebrity: merged at read time
		return t, true, nil
	}
	t.skip = map[string]bool{}
	for _, who := range []string{p.AuthorID, t.entry.RepostedBy} {
		if who == "" {
			continue
		}
		muters, err := f.Graph.MutedBy(ctx, who)
		if err != nil {
			return t, false, err
		}
		for _, m := range muters {
			t.skip[m] = true
		}
	}
	return t, true, nil
}

// plan returns the writes of a post or repost job whose audience fits in
// one page; ok is false when the job needs a full (paged) run.
func (f *Feed) plan(ctx context.Context, j FanoutJob) ([]timeline.Write, bool, error) {
	if j.Kind != JobPost && j.Kind != JobRepost {
		return nil, false, nil
	}
	t, ok, err := f.resolve(ctx, j)
	if err != nil || !ok {
		return nil, err == nil, err // nothing to write counts as planned
	}
	ws := []timeline.Write{{Owners: []string{t.source}, Entry: t.entry}}
	if t.list == nil {
		return ws, true, nil
	}
	page, err := t.list(ctx, t.source, "", f.pageSize())
	if err != nil || page.Next != "" {
		return nil, false, err
	}
	return append(ws, timeline.Write{Owners: owners(page, t.skip), Entry: t.entry}), true, nil
}

func owners(page graph.Page, skip map[string]bool) []string {
	out := make([]string, 0, len(page.Edges))
	for _, e := range page.Edges {
		if !skip[e.UserID] {
			out = append(out, e.UserID)
		}
	}
	return out
}

// trim bounds the timelines of a deterministic ~1/64 of owners per entry,
// which keeps every timeline near MaxEntries amortized.
func (f *Feed) trim(ctx context.Context, owners []string, postID string) error {
	for _, o := range owners {
		if trimTurn(o, postID) {
			if err := f.Timelines.Trim(ctx, o, timeline.MaxEntries); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Feed) pageSize() int {
	if f.PageSize > 0 {
		return f.PageSize
	}
	return 1000
}

func (f *Feed) run(ctx context.Context, i int, j FanoutJob, cursor string) error {
	switch j.Kind {
	case JobUnfollow:
		_, err := f.Timelines.RemoveAuthor(ctx, j.Owner, j.AuthorID)
		return err
	case JobDelete:
		e := timeline.Entry{PostID: j.PostID, AuthorID: j.AuthorID, At: EntryTime(j.PostID, j.At)}
		if err := f.Timelines.Remove(ctx, []string{j.AuthorID}, e); err != nil {
			return err
		}
		return f.eachPage(ctx, i, f.Graph.Followers, j.AuthorID, cursor, nil, func(owners []string) error {
			return f.Timelines.Remove(ctx, owners, e)
		})
	case JobPost, JobRepost:
	default:
		return fmt.Errorf("unknown job kind %q", j.Kind)
	}
	t, ok, err := f.resolve(ctx, j)
	if err != nil || !ok {
		return err
	}
	if err := f.Timelines.Add(ctx, []string{t.source}, t.entry); err != nil {
		return err
	}
	if t.list != nil {
		err = f.eachPage(ctx, i, t.list, t.source, cursor, t.skip, func(owners []string) error {
			if err := f.Timelines.Add(ctx, owners, t.entry); err != nil {
				return err
			}
			return f.trim(ctx, owners, t.entry.PostID)
		})
	}
	if err == nil {
		f.observe(t.entry.At)
	}
	return err
}

// observe records the fan-out lag of entries whose writes are done.
func (f *Feed) observe(at ...time.Time) {
	if f.Lag == nil {
		return
	}
	now := time.Now()
	for _, t := range at {
		f.Lag.Observe(max(0, now.Sub(t).Seconds()))
	}
}

// eachPage walks list(user) a page at a time from cursor, calls write with
// the page's users minus skip, and heartbeats the next cursor.
func (f *Feed) eachPage(ctx context.Context, job int, list func(context.Context, string, string, int) (graph.Page, error),
	user, cursor string, skip map[string]bool, write func([]string) error) error {
	for {
		page, err := list(ctx, user, cursor, f.pageSize())
		if err != nil {
			return err
		}
		if err := write(owners(page, skip)); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
		activity.RecordHeartbeat(ctx, fanoutProgress{Job: job, Cursor: cursor})
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func trimTurn(owner, postID string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(owner + "\x00" + postID))
	return h.Sum32()%64 == 0
}

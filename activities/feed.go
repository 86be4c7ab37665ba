package activities

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"

	"github.com/ejazz/ejazz/internal/graph"
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
}

// fanoutProgress is the heartbeat: the job being worked on and the follower
// cursor within it, so a retried activity resumes where the last one was.
type fanoutProgress struct {
	Job    int
	Cursor string
}

// FanOut runs jobs in order. Timeline writes are idempotent, so resuming
// from the last heartbeat (or redoing a page) never duplicates an entry.
func (f *Feed) FanOut(ctx context.Context, jobs []FanoutJob) error {
	var p fanoutProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for i := p.Job; i < len(jobs); i++ {
		cursor := ""
		if i == p.Job {
			cursor = p.Cursor
		}
		if err := f.run(ctx, i, jobs[i], cursor); err != nil {
			return fmt.Errorf("fan-out job %d (%s %s): %w", i, jobs[i].Kind, jobs[i].PostID, err)
		}
		activity.RecordHeartbeat(ctx, fanoutProgress{Job: i + 1})
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
	p, err := f.Posts.Get(ctx, j.PostID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // deleted before its fan-out: nothing to write
	}
	if err != nil {
		return err
	}
	source, e := p.AuthorID, timeline.Entry{PostID: p.ID, AuthorID: p.AuthorID, At: EntryTime(p.ID, p.CreatedAt)}
	list := f.Graph.Followers
	switch {
	case j.Kind == JobRepost:
		if p.Visibility != post.Public {
			return nil
		}
		source, e.RepostedBy, e.At = j.RepostedBy, j.RepostedBy, j.At.UTC().Truncate(time.Millisecond)
	case p.Visibility == post.Friends:
		list = f.Graph.Friends
	case p.Visibility == post.OnlyMe:
		list = nil
	}
	if err := f.Timelines.Add(ctx, []string{source}, e); err != nil {
		return err
	}
	if list == nil {
		return nil
	}
	counts, err := f.Graph.Counts(ctx, []string{source})
	if err != nil {
		return err
	}
	if f.Threshold > 0 && counts[source].Followers > int64(f.Threshold) {
		return nil // a celebrity: merged at read time
	}
	skip := map[string]bool{}
	for _, who := range []string{p.AuthorID, e.RepostedBy} {
		if who == "" {
			continue
		}
		muters, err := f.Graph.MutedBy(ctx, who)
		if err != nil {
			return err
		}
		for _, m := range muters {
			skip[m] = true
		}
	}
	return f.eachPage(ctx, i, list, source, cursor, skip, func(owners []string) error {
		if err := f.Timelines.Add(ctx, owners, e); err != nil {
			return err
		}
		// Bound timelines: trim a deterministic ~1/64 of the owners each
		// write, which keeps every timeline near MaxEntries amortized.
		for _, o := range owners {
			if trimTurn(o, e.PostID) {
				if err := f.Timelines.Trim(ctx, o, timeline.MaxEntries); err != nil {
					return err
				}
			}
		}
		return nil
	})
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
		owners := make([]string, 0, len(page.Edges))
		for _, e := range page.Edges {
			if !skip[e.UserID] {
				owners = append(owners, e.UserID)
			}
		}
		if err := write(owners); err != nil {
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

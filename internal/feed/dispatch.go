// Package feed turns domain events into durable fan-out work and serves
// home and user timelines (feedapi).
//
// The Dispatcher is an event.Publisher: PostService and UserService publish
// post, repost, delete, unfollow and block events to it; it maps them to
// fan-out jobs, groups the jobs of concurrent requests per shard for a few
// milliseconds (group commit) and hands each group to that shard's
// long-running FeedFanout workflow with one signal-with-start. Publish
// returns only when Temporal has accepted the signal, so a request that
// succeeded has its fan-out durably queued; if Temporal is unavailable the
// request fails and the client's retry (idempotent) queues it again.
//
// Why shards and group commit: a workflow per post caps the post rate at
// what the Temporal server starts per second (~30/s on the embedded server
// of a 2-core machine). Signals to a few running workflows are much cheaper,
// and one signal per group per shard keeps Temporal's load independent of
// the post rate; each shard then runs many posts per activity.
package feed

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/workflows"
)

// Dispatcher queues fan-out jobs on the shard workflows.
type Dispatcher struct {
	Temporal client.Client
	// Shards is the number of fan-out workflows (default 4).
	Shards int
	// Window is how long a group waits for more jobs (default 5 ms);
	// MaxGroup flushes a group early (default 256 jobs).
	Window   time.Duration
	MaxGroup int

	once   sync.Once
	queues []chan request
}

type request struct {
	jobs []activities.FanoutJob
	done chan error
}

var _ event.Publisher = (*Dispatcher)(nil)

// Jobs maps events to fan-out jobs; events the feed does not act on map to
// nothing.
func Jobs(events ...event.Event) []activities.FanoutJob {
	var out []activities.FanoutJob
	for _, e := range events {
		switch e.Kind {
		case event.PostCreated:
			out = append(out, activities.FanoutJob{Kind: activities.JobPost, PostID: e.PostID, AuthorID: e.ActorID, At: e.At})
		case event.PostDeleted:
			out = append(out, activities.FanoutJob{Kind: activities.JobDelete, PostID: e.PostID, AuthorID: e.ActorID, At: e.At})
		case event.Reposted:
			out = append(out, activities.FanoutJob{Kind: activities.JobRepost, PostID: e.PostID, AuthorID: e.SubjectID, RepostedBy: e.ActorID, At: e.At})
		case event.Unfollowed:
			out = append(out, activities.FanoutJob{Kind: activities.JobUnfollow, Owner: e.ActorID, AuthorID: e.SubjectID})
		case event.Blocked:
			out = append(out,
				activities.FanoutJob{Kind: activities.JobUnfollow, Owner: e.ActorID, AuthorID: e.SubjectID},
				activities.FanoutJob{Kind: activities.JobUnfollow, Owner: e.SubjectID, AuthorID: e.ActorID})
		}
	}
	return out
}

// shardOf keeps each author's jobs (and each owner's clean-ups) on one shard,
// in order.
func (d *Dispatcher) shardOf(j activities.FanoutJob) int {
	key := j.AuthorID
	switch j.Kind {
	case activities.JobRepost:
		key = j.RepostedBy
	case activities.JobUnfollow:
		key = j.Owner
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(d.shards()))
}

func (d *Dispatcher) shards() int {
	if d.Shards > 0 {
		return d.Shards
	}
	return 4
}

// Publish queues the events' fan-out jobs and waits until Temporal took them.
func (d *Dispatcher) Publish(ctx context.Context, events ...event.Event) error {
	jobs := Jobs(events...)
	if len(jobs) == 0 {
		return nil
	}
	d.once.Do(d.start)
	byShard := map[int][]activities.FanoutJob{}
	for _, j := range jobs {
		byShard[d.shardOf(j)] = append(byShard[d.shardOf(j)], j)
	}
	var waits []chan error
	for shard, js := range byShard {
		r := request{jobs: js, done: make(chan error, 1)}
		select {
		case d.queues[shard] <- r:
		case <-ctx.Done():
			return ctx.Err()
		}
		waits = append(waits, r.done)
	}
	for _, w := range waits {
		select {
		case err := <-w:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (d *Dispatcher) start() {
	d.queues = make([]chan request, d.shards())
	for i := range d.queues {
		d.queues[i] = make(chan request, 1024)
		go d.loop(i, d.queues[i])
	}
}

// loop groups the requests of one shard and sends each group as one signal.
func (d *Dispatcher) loop(shard int, q chan request) {
	window, max := d.Window, d.MaxGroup
	if window <= 0 {
		window = 5 * time.Millisecond
	}
	if max <= 0 {
		max = 256
	}
	for first := range q {
		group := event.Gather(first, q, window, max, func(r request) int { return len(r.jobs) })
		var jobs []activities.FanoutJob
		for _, r := range group {
			jobs = append(jobs, r.jobs...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := d.Temporal.SignalWithStartWorkflow(ctx, workflows.FeedFanoutWorkflowID(shard), workflows.SignalFanout, jobs,
			client.StartWorkflowOptions{ID: workflows.FeedFanoutWorkflowID(shard), TaskQueue: workflows.QueueFeed},
			workflows.FeedFanout, &workflows.FeedFanoutInput{Shard: shard})
		cancel()
		for _, r := range group {
			r.done <- err
		}
	}
}

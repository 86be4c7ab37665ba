// Package workers decides which workflows and activities run on which task
// queue. A worker process (`ejazz worker <queue…>`) polls the queues it is
// given; `ejazz dev` polls them all. Temporal's task queues are also how
// background work is discovered and load-balanced: every process polling a
// queue shares its work, visible as pollers in the Temporal UI.
package workers

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/workflows"
)

// Deps are the ports the activities need (nil for stores the process did
// not open).
type Deps struct {
	// Stores are all stores this process opened (probed by the system check).
	Stores []storage.Store
	// Accounts are the registration activities' ports.
	Accounts *activities.Accounts
	// Feed are the fan-out activities' ports.
	Feed *activities.Feed
	// Media are the media pipeline's activities; MediaWorkers bounds how
	// many items one process works on at once (memory: a 50-megapixel
	// image decodes to ~200 MB).
	Media        *activities.Media
	MediaWorkers int
	// Notifications are the notification delivery and digest activities.
	Notifications *activities.Notifications
}

// Register registers queue's workflows and activities on r.
func Register(r worker.Registry, queue string, d Deps) error {
	switch queue {
	case workflows.QueueSystem:
		r.RegisterWorkflow(workflows.SystemCheck)
		r.RegisterActivity(&activities.System{Stores: d.Stores})
	case workflows.QueueAccounts:
		if d.Accounts == nil {
			return fmt.Errorf("task queue %s needs the account activities", queue)
		}
		r.RegisterWorkflow(workflows.Registration)
		r.RegisterWorkflow(workflows.PasswordReset)
		r.RegisterActivity(d.Accounts)
	case workflows.QueueFeed:
		if d.Feed == nil {
			return fmt.Errorf("task queue %s needs the feed activities", queue)
		}
		r.RegisterWorkflow(workflows.FeedFanout)
		r.RegisterActivity(d.Feed)
	case workflows.QueueMedia:
		if d.Media == nil {
			return fmt.Errorf("task queue %s needs the media activities", queue)
		}
		r.RegisterWorkflow(workflows.MediaPipeline)
		r.RegisterActivity(d.Media)
	case workflows.QueueNotifications:
		if d.Notifications == nil {
			return fmt.Errorf("task queue %s needs the notification activities", queue)
		}
		r.RegisterWorkflow(workflows.NotificationShard)
		r.RegisterWorkflow(workflows.NotificationBatch) // runs started before the shards must finish
		r.RegisterWorkflow(workflows.NotificationDigest)
		r.RegisterActivity(d.Notifications)
	case workflows.QueueAnalytics:
		// Its workflows arrive with the feature issue; the queue is
		// polled already so deployments are laid out from day one.
	default:
		return fmt.Errorf("unknown task queue %q (known: %v)", queue, workflows.Queues)
	}
	return nil
}

// Start starts one worker per queue on c. Stop them with the returned func.
func Start(c client.Client, queues []string, d Deps) (stop func(), err error) {
	var started []worker.Worker
	stop = func() {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
	}
	for _, q := range queues {
		if !slices.Contains(workflows.Queues, q) {
			stop()
			return nil, fmt.Errorf("unknown task queue %q (known: %v)", q, workflows.Queues)
		}
		opts := worker.Options{}
		if q == workflows.QueueMedia && d.MediaWorkers > 0 {
			opts.MaxConcurrentActivityExecutionSize = d.MediaWorkers
		}
		w := worker.New(c, q, opts)
		if err := Register(w, q, d); err != nil {
			stop()
			return nil, err
		}
		if err := w.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("worker %s: %w", q, err)
		}
		started = append(started, w)
	}
	return stop, nil
}

package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/workflows"
)

// DigestFrequencies are the frequencies that have a digest schedule.
var DigestFrequencies = []notification.Frequency{notification.Daily, notification.Weekly}

// digestSpec is when digests of freq go out: every day (daily) or every
// weekday (weekly) at hour:00 UTC.
func digestSpec(freq notification.Frequency, hour int, weekday time.Weekday) client.ScheduleSpec {
	cal := client.ScheduleCalendarSpec{
		Second: []client.ScheduleRange{{Start: 0}},
		Minute: []client.ScheduleRange{{Start: 0}},
		Hour:   []client.ScheduleRange{{Start: hour}},
	}
	if freq == notification.Weekly {
		cal.DayOfWeek = []client.ScheduleRange{{Start: int(weekday)}}
	}
	return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{cal}, TimeZoneName: "UTC"}
}

// EnsureDigestSchedules creates the Temporal schedules of the daily and
// weekly digests (workflows.NotificationDigestScheduleID) when they are
// missing, and otherwise sets their times to hour:00 UTC (weekly: on
// weekday). Workers of the notification queue call it at start, so
// several processes may race here: creating an existing schedule is not an
// error. Each schedule runs NotificationDigest on the notification queue,
// skipping a run while the previous one is still going.
func EnsureDigestSchedules(ctx context.Context, c client.Client, hour int, weekday time.Weekday) error {
	for _, freq := range DigestFrequencies {
		id := workflows.NotificationDigestScheduleID(freq.String())
		spec := digestSpec(freq, hour, weekday)
		_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:      id,
			Spec:    spec,
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Action: &client.ScheduleWorkflowAction{
				ID:        id,
				Workflow:  workflows.NotificationDigest,
				Args:      []any{&workflows.NotificationDigestInput{Frequency: freq}},
				TaskQueue: workflows.QueueNotifications,
			},
			Note: "Ejazz notification digests (" + freq.String() + ")",
		})
		if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			err = c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
				DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
					s := in.Description.Schedule
					s.Spec = &spec
					return &client.ScheduleUpdate{Schedule: &s}, nil
				},
			})
		}
		if err != nil {
			return fmt.Errorf("notification digest schedule %s: %w", id, err)
		}
	}
	return nil
}

// TriggerDigest runs the digest of freq now, through its schedule (an
// operator's or a test's way to send digests without waiting for the
// time).
func TriggerDigest(ctx context.Context, c client.Client, freq notification.Frequency) error {
	h := c.ScheduleClient().GetHandle(ctx, workflows.NotificationDigestScheduleID(freq.String()))
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		return fmt.Errorf("trigger the %s digest: %w", freq, err)
	}
	return nil
}

// KeepDigestSchedules runs EnsureDigestSchedules until it succeeds or ctx
// ends, retrying with backoff (5 s doubling to a minute) and logging each
// failure. Worker processes run it in the background so that a Temporal
// server that cannot serve schedules yet (the embedded server takes about
// a minute after a restart before schedule calls answer) delays the
// digests, not the start of the process.
func KeepDigestSchedules(ctx context.Context, c client.Client, hour int, weekday time.Weekday, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	backoff := 5 * time.Second
	for {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := EnsureDigestSchedules(actx, c, hour, weekday)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("notification digest schedules not in place yet; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// Package workflows holds Ejazz's Temporal workflows: one file per workflow
// (and its tests). This file is the one place for task queues, workflow ID
// builders, signal/update names and search attributes, so that starters,
// workers and ops tooling agree on them.
//
// Workflows must be deterministic: they use workflow.Now, workflow.SideEffect,
// workflow.Go/Selector/Await and never touch I/O directly. `make lint` runs
// Temporal's workflowcheck over this package.
package workflows

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Task queues. Each is polled by the worker pool of the same name
// (`ejazz worker <queue…>`); `ejazz dev` polls them all in one process.
const (
	// QueueSystem runs platform housekeeping and self-checks.
	QueueSystem = "ejazz-system"
	// QueueAccounts runs registration, password reset and account deletion.
	QueueAccounts = "ejazz-accounts"
	// QueueMedia runs the media pipeline (CPU heavy: scale it on its own).
	QueueMedia = "ejazz-media"
	// QueueFeed runs feed fan-out.
	QueueFeed = "ejazz-feed"
	// QueueNotifications runs the notification shards (batching) and digests.
	QueueNotifications = "ejazz-notifications"
	// QueueAnalytics runs analytics ingestion replay and rollups.
	QueueAnalytics = "ejazz-analytics"
)

// Queues lists every task queue, in the order workers start.
var Queues = []string{QueueSystem, QueueAccounts, QueueMedia, QueueFeed, QueueNotifications, QueueAnalytics}

// Search attributes registered on the namespace so ops can find a user's or a
// post's workflows in the Temporal UI (e.g. `EjazzUserId = "…"`).
var (
	SearchUserID  = temporal.NewSearchAttributeKeyKeyword("EjazzUserId")
	SearchPostID  = temporal.NewSearchAttributeKeyKeyword("EjazzPostId")
	SearchMediaID = temporal.NewSearchAttributeKeyKeyword("EjazzMediaId")
)

// SearchAttributeTypes is what the namespace must register (the embedded
// server does it on start; `ejazz migrate` does it on a cluster).
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchUserID.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchPostID.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchMediaID.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// SystemCheckWorkflowID names a self-check run; key is the caller's business
// key (e.g. a date or a deployment id), so repeating a check with the same key
// returns the same run.
func SystemCheckWorkflowID(key string) string { return "system-check:" + key }

// RegistrationWorkflowID names the registration of an email (normalized), so
// a double submit reaches the same workflow and the same user.
func RegistrationWorkflowID(normalizedEmail string) string { return "registration:" + normalizedEmail }

// Registration workflow messages.
const (
	// UpdateRegister waits until the account exists (or could not be
	// created) and returns the RegistrationOutcome.
	UpdateRegister = "register"
	// SignalEmailVerified tells the registration the email was verified.
	SignalEmailVerified = "email-verified"
)

// PasswordResetWorkflowID names the password reset of an email (normalized):
// repeated requests reach the same workflow.
func PasswordResetWorkflowID(normalizedEmail string) string {
	return "password-reset:" + normalizedEmail
}

// Password reset workflow signals.
const (
	// SignalResetRequested asks for a (new) reset mail; sent with signal-with-start.
	SignalResetRequested = "reset-requested"
	// SignalResetDone tells the workflow the password was reset.
	SignalResetDone = "reset-done"
)

// FeedFanoutWorkflowID names fan-out shard n. Posts, deletes, reposts and
// unfollows reach a shard by signal-with-start (SignalFanout); each shard is
// one long-running workflow that drains many jobs per activity and
// continues-as-new to bound its history.
func FeedFanoutWorkflowID(shard int) string { return fmt.Sprintf("feed-fanout:%d", shard) }

// SignalFanout carries a batch of fan-out jobs ([]activities.FanoutJob).
const SignalFanout = "fanout"

// MediaPipelineWorkflowID names the pipeline of one media item. CreateUpload
// starts it (it waits for the upload); CompleteUpload signals it.
func MediaPipelineWorkflowID(mediaID string) string { return "media:" + mediaID }

// SignalUploadComplete tells a media pipeline the bytes are uploaded.
const SignalUploadComplete = "upload-complete"

// NotificationWorkflowID names the retired per-recipient batching workflow
// (NotificationBatch): no longer started — notifications go through the
// shards (NotificationShardWorkflowID) — but kept so runs already in
// flight in a deployed cluster finish.
func NotificationWorkflowID(userID string) string { return "notifications:" + userID }

// SignalNotify carries events for a recipient ([]notification.Event).
const SignalNotify = "notify"

// NotificationDigestScheduleID names the Temporal schedule that runs the
// email digests of one frequency ("daily", "weekly"); its runs are
// NotificationDigest workflows whose IDs start with the same string.
func NotificationDigestScheduleID(frequency string) string { return "notification-digest:" + frequency }

// NotificationShardWorkflowID names notification shard n (NotificationShard):
// a long-running workflow holding the batching state of every recipient
// whose user ID hashes to n (dispatch.Dispatcher picks the shard). Events
// reach it by signal-with-start (SignalNotifyShard), one signal per shard
// per dispatcher group; it continues as new to bound its history.
func NotificationShardWorkflowID(shard int) string { return fmt.Sprintf("notify-shard:%d", shard) }

// SignalNotifyShard carries the events of many recipients of one shard
// (NotificationShardSignal).
const SignalNotifyShard = "notify-shard"

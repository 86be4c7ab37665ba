// Package mediaapi is the MediaService Connect handler: it validates upload
// requests, records PENDING items, hands out presigned upload URLs (the API
// never proxies bytes), starts and signals the media pipeline workflow, and
// serves items with URLs for their variants. It also answers the post
// service's questions about media (attachable? what to show?).
package mediaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/ejazz/ejazz/gen/ejazz/media/v1"
	"github.com/ejazz/ejazz/gen/ejazz/media/v1/mediav1connect"
	"github.com/ejazz/ejazz/internal/apierr"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/workflows"
)

const maxIDLen = 64

// Service implements MediaService.
type Service struct {
	Store    media.Store
	Blobs    blob.Store
	Temporal client.Client
	Log      *slog.Logger
	// MaxImageBytes and MaxVideoBytes bound declared sizes.
	MaxImageBytes, MaxVideoBytes int64
	// UploadTTL is the upload URL's lifetime; PendingTTL when an unfinished
	// upload is removed; URLTTL the variant URLs' lifetime.
	UploadTTL, PendingTTL, URLTTL time.Duration
	// PublicBaseURL, when set, serves variants as <base>/<key>.
	PublicBaseURL string
}

var _ mediav1connect.MediaServiceHandler = (*Service)(nil)

func signedIn(ctx context.Context) (string, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	return c.UserID, nil
}

func checkID(field, id string) error {
	if id == "" || len(id) > maxIDLen {
		return apierr.Invalid(field, "is required and at most 64 bytes")
	}
	return nil
}

func notFound() error {
	return connect.NewError(connect.CodeNotFound, errors.New("media_id: no such media"))
}

func (s *Service) unavailable(ctx context.Context, what string, err error) error {
	return apierr.Unavailable(ctx, s.Log, what, err)
}

// CreateUpload validates the declared type and size, records a PENDING item,
// starts its pipeline workflow (which waits for the upload, and removes it
// after PendingTTL if it never completes) and returns a presigned PUT bound
// to the type and length.
func (s *Service) CreateUpload(ctx context.Context, req *connect.Request[mediav1.CreateUploadRequest]) (*connect.Response[mediav1.CreateUploadResponse], error) {
	owner, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	ct, _, perr := mime.ParseMediaType(m.GetContentType())
	switch {
	case perr != nil || (!slices.Contains(media.ImageTypes, ct) && !slices.Contains(media.VideoTypes, ct)):
		return nil, apierr.Invalid("content_type", "must be one of "+strings.Join(append(slices.Clone(media.ImageTypes), media.VideoTypes...), ", "))
	case m.GetSizeBytes() <= 0:
		return nil, apierr.Invalid("size_bytes", "must be the file's size in bytes")
	case !media.IsVideo(ct) && m.GetSizeBytes() > s.MaxImageBytes:
		return nil, apierr.Invalid("size_bytes", fmt.Sprintf("images are at most %d bytes", s.MaxImageBytes))
	case media.IsVideo(ct) && m.GetSizeBytes() > s.MaxVideoBytes:
		return nil, apierr.Invalid("size_bytes", fmt.Sprintf("videos are at most %d bytes", s.MaxVideoBytes))
	case len(m.GetFilename()) > 255 || !utf8.ValidString(m.GetFilename()) || strings.ContainsRune(m.GetFilename(), 0):
		return nil, apierr.Invalid("filename", "must be valid UTF-8, at most 255 bytes")
	}
	uid, err := uuid.NewV7()
	if err != nil {
		return nil, s.unavailable(ctx, "media id", err)
	}
	now := time.Now().UTC()
	item := media.Media{ID: uid.String(), OwnerID: owner, Status: media.Pending, DeclaredType: ct, ContentType: ct,
		Size: m.GetSizeBytes(), Filename: m.GetFilename(), CreatedAt: now, UpdatedAt: now}
	if err := s.Store.Create(ctx, item); err != nil {
		return nil, s.unavailable(ctx, "create media", err)
	}
	if _, err := s.Temporal.ExecuteWorkflow(ctx, s.startOptions(item), workflows.MediaPipeline, s.input(item)); err != nil {
		// Nothing half-written: without its workflow the item would never
		// be processed nor cleaned up.
		if derr := s.Store.Delete(context.WithoutCancel(ctx), item.ID); derr != nil {
			s.Log.ErrorContext(ctx, "media row left without workflow", "media", item.ID, "err", derr)
		}
		return nil, s.unavailable(ctx, "start media pipeline", err)
	}
	u, hdr, err := s.Blobs.PresignPut(ctx, media.UploadKey(item.ID), ct, item.Size, s.UploadTTL)
	if err != nil {
		return nil, s.unavailable(ctx, "presign upload", err)
	}
	headers := map[string]string{}
	for k, v := range hdr {
		headers[k] = strings.Join(v, ",")
	}
	return connect.NewResponse(&mediav1.CreateUploadResponse{
		MediaId: item.ID, UploadUrl: u, UploadMethod: "PUT", UploadHeaders: headers,
		ExpiresAt: timestamppb.New(now.Add(s.UploadTTL)),
	}), nil
}

func (s *Service) startOptions(m media.Media) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID: workflows.MediaPipelineWorkflowID(m.ID), TaskQueue: workflows.QueueMedia,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchMediaID.ValueSet(m.ID), workflows.SearchUserID.ValueSet(m.OwnerID)),
	}
}

func (s *Service) input(m media.Media) *workflows.MediaPipelineInput {
	return &workflows.MediaPipelineInput{MediaID: m.ID, PendingTTL: s.PendingTTL}
}

// owned loads the caller's item; anyone else's, or none, is not_found.
func (s *Service) owned(ctx context.Context, id string) (media.Media, string, error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return media.Media{}, "", err
	}
	if err := checkID("media_id", id); err != nil {
		return media.Media{}, "", err
	}
	m, err := s.Store.Get(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && m.OwnerID != caller) {
		return media.Media{}, caller, notFound()
	}
	if err != nil {
		return media.Media{}, caller, s.unavailable(ctx, "get media", err)
	}
	return m, caller, nil
}

// CompleteUpload checks the bytes are there and signals the pipeline.
func (s *Service) CompleteUpload(ctx context.Context, req *connect.Request[mediav1.CompleteUploadRequest]) (*connect.Response[mediav1.CompleteUploadResponse], error) {
	m, _, err := s.owned(ctx, req.Msg.GetMediaId())
	if err != nil {
		return nil, err
	}
	if m.Status == media.Pending {
		_, err := s.Blobs.Stat(ctx, media.UploadKey(m.ID))
		if errors.Is(err, storage.ErrNotFound) {
			if time.Since(m.CreatedAt) > s.UploadTTL {
				return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("media_id: the upload URL expired before anything was uploaded; create a new upload"))
			}
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("media_id: nothing uploaded yet; PUT the file to upload_url first"))
		}
		if err != nil {
			return nil, s.unavailable(ctx, "stat upload", err)
		}
		// Signal first, then show PROCESSING: a PROCESSING item always has a
		// signalled workflow, so a retry of this call never strands it.
		opts := s.startOptions(m)
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
		if _, err := s.Temporal.SignalWithStartWorkflow(ctx, opts.ID, workflows.SignalUploadComplete, nil, opts, workflows.MediaPipeline, s.input(m)); err != nil {
			return nil, s.unavailable(ctx, "signal media pipeline", err)
		}
		if _, err := s.Store.Transition(ctx, m.ID, []media.Status{media.Pending}, media.Result{Status: media.Processing}); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, s.unavailable(ctx, "media processing", err)
		}
		if m, err = s.Store.Get(ctx, m.ID); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil, notFound()
			}
			return nil, s.unavailable(ctx, "get media", err)
		}
	}
	pm, err := s.toProto(ctx, m)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mediav1.CompleteUploadResponse{Media: pm}), nil
}

// visible: READY media to any signed-in user, the rest to the owner only.
func visible(m media.Media, caller string) bool {
	return m.Status == media.Ready || m.OwnerID == caller
}

// GetMedia returns an item the caller may see.
func (s *Service) GetMedia(ctx context.Context, req *connect.Request[mediav1.GetMediaRequest]) (*connect.Response[mediav1.GetMediaResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID("media_id", req.Msg.GetMediaId()); err != nil {
		return nil, err
	}
	m, err := s.Store.Get(ctx, req.Msg.GetMediaId())
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !visible(m, caller)) {
		return nil, notFound()
	}
	if err != nil {
		return nil, s.unavailable(ctx, "get media", err)
	}
	pm, err := s.toProto(ctx, m)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mediav1.GetMediaResponse{Media: pm}), nil
}

// BatchGetMedia returns the visible items among up to 100 IDs, in order.
func (s *Service) BatchGetMedia(ctx context.Context, req *connect.Request[mediav1.BatchGetMediaRequest]) (*connect.Response[mediav1.BatchGetMediaResponse], error) {
	caller, err := signedIn(ctx)
	if err != nil {
		return nil, err
	}
	ids := req.Msg.GetMediaIds()
	if len(ids) > apierr.MaxPageSize {
		return nil, apierr.Invalid("media_ids", "must hold at most 100 IDs")
	}
	for _, id := range ids {
		if err := checkID("media_ids", id); err != nil {
			return nil, err
		}
	}
	out, err := s.describe(ctx, ids, func(m media.Media) bool { return visible(m, caller) })
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&mediav1.BatchGetMediaResponse{Media: out}), nil
}

func (s *Service) describe(ctx context.Context, ids []string, keep func(media.Media) bool) ([]*mediav1.Media, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := s.Store.GetMany(ctx, ids)
	if err != nil {
		return nil, s.unavailable(ctx, "get media", err)
	}
	out := make([]*mediav1.Media, 0, len(ids))
	for _, id := range ids {
		m, ok := found[id]
		if !ok || !keep(m) {
			continue
		}
		pm, err := s.toProto(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, pm)
	}
	return out, nil
}

// DeleteMedia removes the caller's item and all its objects.
func (s *Service) DeleteMedia(ctx context.Context, req *connect.Request[mediav1.DeleteMediaRequest]) (*connect.Response[mediav1.DeleteMediaResponse], error) {
	m, _, err := s.owned(ctx, req.Msg.GetMediaId())
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeNotFound {
		// Gone already (deleting twice succeeds) — or someone else's.
		if _, gerr := s.Store.Get(ctx, req.Msg.GetMediaId()); errors.Is(gerr, storage.ErrNotFound) {
			return connect.NewResponse(&mediav1.DeleteMediaResponse{}), nil
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := media.Remove(ctx, s.Store, s.Blobs, m); err != nil {
		return nil, s.unavailable(ctx, "delete media", err)
	}
	return connect.NewResponse(&mediav1.DeleteMediaResponse{}), nil
}

// CheckAttachable is the post service's check: every id is owner's READY
// media (storage.ErrNotFound / media.ErrNotReady otherwise).
func (s *Service) CheckAttachable(ctx context.Context, owner string, ids []string) error {
	return media.CheckAttachable(ctx, s.Store, owner, ids)
}

// Describe returns the READY items among ids, keyed by ID, for hydrating
// posts.
func (s *Service) Describe(ctx context.Context, ids []string) (map[string]*mediav1.Media, error) {
	list, err := s.describe(ctx, ids, func(m media.Media) bool { return m.Status == media.Ready })
	if err != nil {
		return nil, err
	}
	out := make(map[string]*mediav1.Media, len(list))
	for _, m := range list {
		out[m.GetMediaId()] = m
	}
	return out, nil
}

func (s *Service) url(ctx context.Context, key string) (string, error) {
	if s.PublicBaseURL != "" {
		return strings.TrimRight(s.PublicBaseURL, "/") + "/" + key, nil
	}
	return s.Blobs.PresignGet(ctx, key, s.URLTTL)
}

func (s *Service) toProto(ctx context.Context, m media.Media) (*mediav1.Media, error) {
	pm := &mediav1.Media{
		MediaId: m.ID, OwnerId: m.OwnerID, Status: mediav1.MediaStatus(m.Status), ContentType: m.ContentType,
		Width: int32(m.Width), Height: int32(m.Height), FailureReason: m.FailureReason, SizeBytes: m.Size,
		CreatedAt: timestamppb.New(m.CreatedAt),
	}
	if m.Status != media.Ready {
		return pm, nil
	}
	for _, v := range m.Variants {
		u, err := s.url(ctx, v.Key)
		if err != nil {
			return nil, s.unavailable(ctx, "variant url", err)
		}
		pm.Variants = append(pm.Variants, &mediav1.MediaVariant{Name: v.Name, Url: u, Width: int32(v.Width), Height: int32(v.Height),
			ContentType: v.ContentType, SizeBytes: v.Size})
	}
	return pm, nil
}

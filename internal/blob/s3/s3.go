// Package s3 implements the blob port on S3 (aws-sdk-go-v2) — any
// S3-compatible server: versitygw in dev/stack, AWS or others in production.
// Migrate creates the bucket when missing.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/storage"
)

// Options configures the client.
type Options struct {
	Endpoint  string // e.g. http://127.0.0.1:57070; empty uses AWS
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
}

// Store keeps blobs in one bucket.
type Store struct {
	Client  *awss3.Client
	Presign *awss3.PresignClient
	Bucket  string
}

var _ blob.Store = (*Store)(nil)

// New builds the client (no network I/O).
func New(o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3: s3.bucket is empty")
	}
	cfg := aws.Config{
		Region:      o.Region,
		Credentials: credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
		HTTPClient:  &http.Client{Timeout: 60 * time.Second},
	}
	c := awss3.NewFromConfig(cfg, func(opt *awss3.Options) {
		if o.Endpoint != "" {
			opt.BaseEndpoint = aws.String(o.Endpoint)
			opt.UsePathStyle = true
		}
		// Checksums only when the operation requires them: S3-compatible
		// servers vary in their support of the newer defaults.
		opt.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		opt.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{Client: c, Presign: awss3.NewPresignClient(c), Bucket: o.Bucket}, nil
}

// Name implements storage.Store.
func (s *Store) Name() string { return blob.Component + "/s3" }

// Ping lists buckets (a real signed request).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.Client.ListBuckets(ctx, &awss3.ListBucketsInput{}); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	return nil
}

// Migrate creates the bucket when missing.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.Client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &s.Bucket}); err == nil {
		return nil
	}
	_, err := s.Client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &s.Bucket})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("s3: create bucket %s: %w", s.Bucket, err)
	}
	return nil
}

// Close implements storage.Store.
func (s *Store) Close() error { return nil }

// Put uploads the object.
func (s *Store) Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error {
	_, err := s.Client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: &s.Bucket, Key: &key, Body: r, ContentLength: &size, ContentType: &contentType,
		CacheControl: aws.String(blob.CacheControl),
	})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", key, err)
	}
	return nil
}

// Get opens the object.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	out, err := s.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return nil, blob.Info{}, mapErr(key, err)
	}
	return out.Body, blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// Stat describes the object.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	out, err := s.Client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return blob.Info{}, mapErr(key, err)
	}
	return blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// Delete removes the object (S3 deletes of missing keys succeed).
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.Client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key}); err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	return nil
}

// PresignPut returns a URL that accepts one PUT of key with the given content
// type and length until ttl passes.
func (s *Store) PresignPut(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (string, http.Header, error) {
	req, err := s.Presign.PresignPutObject(ctx, &awss3.PutObjectInput{
		Bucket: &s.Bucket, Key: &key, ContentType: &contentType, ContentLength: &size,
	}, awss3.WithPresignExpires(ttl))
	if err != nil {
		return "", nil, fmt.Errorf("s3: presign %s: %w", key, err)
	}
	h := http.Header{}
	for name, v := range req.SignedHeader {
		// Host and Content-Length are set by any HTTP client from the URL
		// and the body; the rest must be sent as signed.
		if n := http.CanonicalHeaderKey(name); n != "Host" && n != "Content-Length" {
			h[n] = v
		}
	}
	return req.URL, h, nil
}

// PresignGet returns a URL that reads key until ttl passes.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.Presign.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: &s.Bucket, Key: &key,
		ResponseCacheControl: aws.String(blob.CacheControl)}, awss3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3: presign get %s: %w", key, err)
	}
	return req.URL, nil
}

func mapErr(key string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var api smithy.APIError
	if errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey")) {
		return fmt.Errorf("s3 %s: %w", key, storage.ErrNotFound)
	}
	return fmt.Errorf("s3 %s: %w", key, err)
}

package storetest

import (
	"context"
	"os"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ejazz/ejazz/internal/blob/s3"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// cleanBucket deletes every object of the store's bucket, then the bucket.
func cleanBucket(st *s3.Store) {
	ctx := context.Background()
	p := awss3.NewListObjectsV2Paginator(st.Client, &awss3.ListObjectsV2Input{Bucket: &st.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = st.Client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &st.Bucket, Key: o.Key})
		}
	}
	_, _ = st.Client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &st.Bucket})
}

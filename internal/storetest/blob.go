package storetest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/blob"
)

// BlobURLs is the conformance suite of the blob port's signed URLs, driven
// with a plain HTTP client as a browser or app would: a presigned PUT stores
// exactly the signed type and length and refuses others; a presigned GET
// reads the object back with its type; a tampered URL is refused.
func BlobURLs(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Run("urls", func(t *testing.T) {
		s, c := migrated(t, open)
		key := "uploads/" + UniqueName("u")
		body := []byte("GIF89a\x01\x00\x01\x00 some bytes")
		u, hdr, err := s.PresignPut(c, key, "image/gif", int64(len(body)), time.Minute)
		if err != nil {
			t.Fatalf("PresignPut: %v", err)
		}
		put := func(url, contentType string, b []byte) int {
			t.Helper()
			req, err := http.NewRequestWithContext(c, http.MethodPut, url, bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range hdr {
				req.Header[k] = v
			}
			req.Header.Set("Content-Type", contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("PUT: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return resp.StatusCode
		}
		if code := put(u, "text/html", body); code/100 == 2 {
			t.Errorf("PUT with another Content-Type = %d, want refused", code)
		}
		if code := put(u, "image/gif", append(bytes.Clone(body), "more"...)); code/100 == 2 {
			t.Errorf("PUT of another length = %d, want refused", code)
		}
		if code := put(u+"0", "image/gif", body); code/100 == 2 {
			t.Errorf("PUT with a tampered URL = %d, want refused", code)
		}
		if _, err := s.Stat(c, key); err == nil {
			t.Fatalf("an object exists after refused uploads")
		}
		if code := put(u, "image/gif", body); code != http.StatusOK {
			t.Fatalf("PUT as signed = %d, want 200", code)
		}
		if info, err := s.Stat(c, key); err != nil || info.Size != int64(len(body)) || info.ContentType != "image/gif" {
			t.Fatalf("Stat after upload = %+v, %v", info, err)
		}
		g, err := s.PresignGet(c, key, time.Minute)
		if err != nil {
			t.Fatalf("PresignGet: %v", err)
		}
		resp, err := http.Get(g)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) || resp.Header.Get("Content-Type") != "image/gif" {
			t.Fatalf("GET = %d %q %q, want 200 image/gif %q", resp.StatusCode, resp.Header.Get("Content-Type"), got, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != blob.CacheControl {
			t.Errorf("GET Cache-Control = %q, want %q", cc, blob.CacheControl)
		}
		if err := s.Delete(c, key); err != nil {
			t.Fatal(err)
		}
	})
}

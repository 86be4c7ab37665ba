package file

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/storage"
)

// PathPrefix is where Handler is mounted on the process's HTTP server.
const PathPrefix = "/blobs/"

// Query parameters of a signed URL.
const (
	qExpires   = "X-Ejazz-Expires"
	qType      = "X-Ejazz-Type"
	qLength    = "X-Ejazz-Length"
	qSignature = "X-Ejazz-Signature"
)

// WithURLs makes the store hand out signed URLs under baseURL (the public
// URL of the process serving Handler), signed with key (HMAC-SHA256). It
// returns s.
func (s *Store) WithURLs(baseURL string, key []byte) *Store {
	s.BaseURL = strings.TrimRight(baseURL, "/")
	s.Key = key
	return s
}

func (s *Store) sign(method, key, contentType, length string, expires int64) string {
	m := hmac.New(sha256.New, s.Key)
	fmt.Fprintf(m, "%s\n%s\n%d\n%s\n%s", method, key, expires, contentType, length)
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Store) signedURL(method, key, contentType, length string, ttl time.Duration) (string, error) {
	if s.BaseURL == "" || len(s.Key) == 0 {
		return "", errors.New("blob: the file store has no URL signer (WithURLs)")
	}
	if _, err := s.path(key); err != nil {
		return "", err
	}
	exp := time.Now().Add(ttl).Unix()
	q := url.Values{qExpires: {strconv.FormatInt(exp, 10)}}
	if method == http.MethodPut {
		q.Set(qType, contentType)
		q.Set(qLength, length)
	}
	q.Set(qSignature, s.sign(method, key, contentType, length, exp))
	return s.BaseURL + PathPrefix + (&url.URL{Path: key}).EscapedPath() + "?" + q.Encode(), nil
}

// PresignPut returns a signed URL accepting one PUT of exactly size bytes of
// contentType (Handler checks both) until ttl passes.
func (s *Store) PresignPut(_ context.Context, key, contentType string, size int64, ttl time.Duration) (string, http.Header, error) {
	u, err := s.signedURL(http.MethodPut, key, contentType, strconv.FormatInt(size, 10), ttl)
	if err != nil {
		return "", nil, err
	}
	return u, http.Header{"Content-Type": {contentType}}, nil
}

// PresignGet returns a signed URL reading key until ttl passes.
func (s *Store) PresignGet(_ context.Context, key string, ttl time.Duration) (string, error) {
	return s.signedURL(http.MethodGet, key, "", "", ttl)
}

// Handler serves the signed URLs: PUT stores the body when the signature,
// expiry, Content-Type and Content-Length all match what was signed; GET
// (and HEAD) streams the object with its type and immutable cache headers.
// Anything else is refused before touching the disk.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, PathPrefix)
		if _, err := s.path(key); err != nil || len(s.Key) == 0 {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		exp, err := strconv.ParseInt(q.Get(qExpires), 10, 64)
		if err != nil {
			http.Error(w, "missing or malformed signature", http.StatusForbidden)
			return
		}
		want := s.sign(method, key, q.Get(qType), q.Get(qLength), exp)
		if !hmac.Equal([]byte(want), []byte(q.Get(qSignature))) {
			http.Error(w, "signature does not match", http.StatusForbidden)
			return
		}
		if time.Now().Unix() > exp {
			http.Error(w, "URL expired", http.StatusForbidden)
			return
		}
		switch method {
		case http.MethodPut:
			s.servePut(w, r, key, q.Get(qType), q.Get(qLength))
		case http.MethodGet:
			s.serveGet(w, r, key)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

func (s *Store) servePut(w http.ResponseWriter, r *http.Request, key, contentType, length string) {
	size, _ := strconv.ParseInt(length, 10, 64)
	if r.Header.Get("Content-Type") != contentType {
		http.Error(w, "Content-Type does not match the signed type "+contentType, http.StatusForbidden)
		return
	}
	if r.ContentLength < 0 {
		http.Error(w, "Content-Length required", http.StatusLengthRequired)
		return
	}
	if r.ContentLength != size {
		http.Error(w, "Content-Length does not match the signed length "+length, http.StatusForbidden)
		return
	}
	if err := s.Put(r.Context(), key, contentType, http.MaxBytesReader(w, r.Body, size), size); err != nil {
		http.Error(w, "upload failed", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Store) serveGet(w http.ResponseWriter, r *http.Request, key string) {
	rc, info, err := s.Get(r.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", info.ContentType)
	w.Header().Set("Cache-Control", blob.CacheControl)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if f, ok := rc.(*os.File); ok {
		fi, err := f.Stat()
		if err == nil {
			http.ServeContent(w, r, "", fi.ModTime(), f)
			return
		}
	}
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	_, _ = io.Copy(w, rc)
}

package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/grpchealth"
)

// maxBufferedResponse bounds how much of a unary response is read before it
// is passed on; reading the whole response inside the retry loop lets an
// idempotent call survive an instance that dies mid-response.
const maxBufferedResponse = 4 << 20

// instance is one backend process.
type instance struct {
	base     *url.URL
	key      string // base URL, the metrics label
	health   *grpchealth.Client
	inflight atomic.Int64
	healthy  atomic.Bool
	fails    atomic.Int32 // consecutive failed health checks
}

// pool balances one route's calls over its instances, checks their health
// and retries; it is the route's http.RoundTripper.
type pool struct {
	service    string
	resolver   Resolver
	h1, h2     http.RoundTripper // HTTP/1.1 (Connect, gRPC-Web) and h2c (gRPC)
	healthHTTP *http.Client
	ejectAfter int32
	allH2C     bool // every call over h2c, not only gRPC
	procs      map[string]procedure
	log        *slog.Logger
	metrics    *metrics

	mu        sync.RWMutex
	instances []*instance
	rr        atomic.Uint64
}

// errNoInstance: the route has no instance at all (DNS returned nothing).
var errNoInstance = errors.New("no backend instance")

// setInstances replaces the instance list with urls, keeping the state of
// instances already known. New instances start healthy (optimistic, so a
// scale-up takes traffic at once; a dead one is ejected on its first
// connection error).
func (p *pool) setInstances(urls []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next []*instance
	for _, u := range urls {
		if i := slices.IndexFunc(p.instances, func(in *instance) bool { return in.key == u }); i >= 0 {
			next = append(next, p.instances[i])
			continue
		}
		base, err := url.Parse(u)
		if err != nil {
			p.log.Error("gateway: bad instance url", "service", p.service, "url", u, "err", err)
			continue
		}
		in := &instance{base: base, key: u, health: grpchealth.NewClient(p.healthHTTP, u)}
		in.healthy.Store(true)
		p.metrics.healthy.WithLabelValues(p.service, u).Set(1)
		p.log.Info("gateway: instance added", "service", p.service, "instance", u)
		next = append(next, in)
	}
	for _, old := range p.instances {
		if !slices.Contains(next, old) {
			p.metrics.healthy.DeleteLabelValues(p.service, old.key)
			p.log.Info("gateway: instance removed", "service", p.service, "instance", old.key)
		}
	}
	p.instances = next
}

// pick chooses an instance not in tried: power of two choices by in-flight
// count over the healthy instances, the two candidates taken round-robin
// (so an idle pool alternates). With no healthy instance left it tries the
// ejected ones rather than fail outright (health checks may lag recovery).
func (p *pool) pick(tried []*instance) *instance {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var healthy, any []*instance
	for _, in := range p.instances {
		if slices.Contains(tried, in) {
			continue
		}
		any = append(any, in)
		if in.healthy.Load() {
			healthy = append(healthy, in)
		}
	}
	cands := healthy
	if len(cands) == 0 {
		cands = any
	}
	switch len(cands) {
	case 0:
		return nil
	case 1:
		return cands[0]
	}
	n := p.rr.Add(1)
	a, b := cands[n%uint64(len(cands))], cands[(n+1)%uint64(len(cands))]
	if b.inflight.Load() < a.inflight.Load() {
		return b
	}
	return a
}

func (p *pool) attempts() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return min(len(p.instances), 3)
}

// eject takes an instance out of rotation until a health check passes.
func (p *pool) eject(in *instance, why string, err error) {
	if in.healthy.Swap(false) {
		p.metrics.healthy.WithLabelValues(p.service, in.key).Set(0)
		p.metrics.ejected.WithLabelValues(p.service, in.key).Inc()
		p.log.Warn("gateway: instance ejected", "service", p.service, "instance", in.key, "reason", why, "err", err)
	}
}

func (p *pool) admit(in *instance) {
	in.fails.Store(0)
	if !in.healthy.Swap(true) {
		p.metrics.healthy.WithLabelValues(p.service, in.key).Set(1)
		p.log.Info("gateway: instance re-admitted", "service", p.service, "instance", in.key)
	}
}

// checkAll runs one grpc.health.v1 check of the route's service on every
// instance: a success admits it, ejectAfter consecutive failures (an error,
// NOT_SERVING, or the service unknown there) eject it.
func (p *pool) checkAll(ctx context.Context, timeout time.Duration) {
	p.mu.RLock()
	list := slices.Clone(p.instances)
	p.mu.RUnlock()
	var wg sync.WaitGroup
	for _, in := range list {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res, err := in.health.Check(cctx, &grpchealth.CheckRequest{Service: p.service})
			if ctx.Err() != nil {
				return
			}
			if err == nil && res.Status == grpchealth.StatusServing {
				p.admit(in)
				return
			}
			if err == nil {
				err = fmt.Errorf("status %s", res.Status)
			}
			if in.fails.Add(1) >= p.ejectAfter {
				p.eject(in, "health check", err)
			}
		})
	}
	wg.Wait()
}

// healthyCount is the number of instances in rotation.
func (p *pool) healthyCount() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 0
	for _, in := range p.instances {
		if in.healthy.Load() {
			n++
		}
	}
	return n
}

// RoundTrip sends req to an instance, retrying on another one when that is
// safe: a call that never reached a server (dial error, a connection the
// server had closed while idle) is retried whatever the procedure; any
// other failure — a connection lost after the request was sent, or an
// `unavailable` answer — only for idempotent procedures. Retrying needs a
// replayable body (req.GetBody, set by the route for buffered bodies).
func (p *pool) RoundTrip(req *http.Request) (*http.Response, error) {
	proc := p.procs[req.URL.Path]
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	grpc := isGRPC(req)
	rt := p.h1
	if grpc || p.allH2C {
		rt = p.h2
	}
	var (
		tried   []*instance
		lastErr error = errNoInstance
	)
	for attempt := 0; attempt < max(p.attempts(), 1); attempt++ {
		in := p.pick(tried)
		if in == nil {
			break
		}
		tried = append(tried, in)
		if attempt > 0 {
			p.metrics.retries.WithLabelValues(p.service).Inc()
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = in.base.Scheme, in.base.Host
		out.Host = ""
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		in.inflight.Add(1)
		resp, err := rt.RoundTrip(out)
		if err == nil && !proc.serverStream {
			err = bufferResponse(resp)
		}
		if err != nil {
			in.inflight.Add(-1)
			p.metrics.requests.WithLabelValues(p.service, in.key, "error").Inc()
			if req.Context().Err() != nil {
				return nil, err
			}
			notSent := notReachedServer(err)
			p.eject(in, "connection error", err)
			lastErr = err
			if (notSent || proc.idempotent) && replayable {
				continue
			}
			return nil, err
		}
		p.metrics.requests.WithLabelValues(p.service, in.key, strconv.Itoa(resp.StatusCode)).Inc()
		if proc.idempotent && replayable && unavailable(resp) && attempt+1 < p.attempts() {
			resp.Body.Close()
			in.inflight.Add(-1)
			lastErr = fmt.Errorf("instance %s: unavailable", in.key)
			continue
		}
		resp.Body = &doneBody{ReadCloser: resp.Body, done: func() { in.inflight.Add(-1) }}
		return resp, nil
	}
	return nil, lastErr
}

// bufferResponse reads up to maxBufferedResponse of a unary response (and,
// if that is all of it, its trailers) so a connection lost mid-response
// fails the attempt, not the client.
func bufferResponse(resp *http.Response) error {
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxBufferedResponse+1))
	if err != nil {
		resp.Body.Close()
		return err
	}
	if len(buf) > maxBufferedResponse {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
		return nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(buf))
	return nil
}

// unavailable: the instance answered `unavailable` (Connect: 503; gRPC:
// grpc-status 14 in a trailers-only response or in the trailers of a
// buffered one), or a proxy in front of it answered 502/503/504.
func unavailable(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return resp.Header.Get("Grpc-Status") == "14" || resp.Trailer.Get("Grpc-Status") == "14"
}

// notReachedServer: the request cannot have been processed — no connection
// was made, or the server had closed the (idle) connection before reading
// it. net/http does not export the latter's error; its text is stable.
func notReachedServer(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return strings.Contains(err.Error(), "server closed idle connection")
}

func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+")
}

// doneBody calls done once, when the body is closed.
type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

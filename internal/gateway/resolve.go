package gateway

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
)

// Resolver lists the base URLs ("http://10.0.3.7:8080") of a service's
// instances. The gateway calls it at start and every ResolveInterval.
type Resolver interface {
	Resolve(ctx context.Context) ([]string, error)
}

// Static is a fixed list of instance base URLs.
type Static []string

// Resolve returns the list.
func (s Static) Resolve(context.Context) ([]string, error) { return s, nil }

// DNS resolves a host name to one instance per address — the Kubernetes
// headless-service way (one A/AAAA record per ready pod).
type DNS struct {
	// Host and Port of the instances, e.g. "ejazz-post" and "8080".
	Host, Port string
	// Lookup resolves Host; default net.DefaultResolver.LookupHost.
	Lookup func(ctx context.Context, host string) ([]string, error)
}

// ParseDNS parses a target "dns:///host:port" (or "dns:host:port").
func ParseDNS(target string) (*DNS, error) {
	rest, ok := strings.CutPrefix(target, "dns:///")
	if !ok {
		if rest, ok = strings.CutPrefix(target, "dns:"); !ok {
			return nil, fmt.Errorf("dns target %q: want dns:///host:port", target)
		}
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("dns target %q: want dns:///host:port", target)
	}
	return &DNS{Host: host, Port: port}, nil
}

// Resolve looks the host up and returns one URL per address, sorted.
func (d *DNS) Resolve(ctx context.Context) ([]string, error) {
	lookup := d.Lookup
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	addrs, err := lookup(ctx, d.Host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", d.Host, err)
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, "http://"+net.JoinHostPort(a, d.Port))
	}
	sort.Strings(out)
	return out, nil
}

// ParseBackend parses a configured backend: "dns:///host:port" (DNS, re-resolved)
// or a comma-separated list of instance URLs ("http://10.0.0.1:8080,http://10.0.0.2:8080").
func ParseBackend(s string) (Backend, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "dns:") {
		d, err := ParseDNS(s)
		if err != nil {
			return Backend{}, err
		}
		return Backend{Resolver: d}, nil
	}
	var urls Static
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		u, err := url.Parse(f)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return Backend{}, fmt.Errorf("backend %q: want dns:///host:port or http://host:port (cleartext: h2c to gRPC clients, HTTP/1.1 otherwise)", f)
		}
		urls = append(urls, strings.TrimRight(f, "/"))
	}
	if len(urls) == 0 {
		return Backend{}, fmt.Errorf("backend %q: no instances", s)
	}
	return Backend{Resolver: urls}, nil
}

package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Op is one kind of request of the workload.
type Op int

// The operations of the DeathStarBench social-network mix.
const (
	OpHome Op = iota // FeedService.GetHomeTimeline of the caller
	OpUser           // FeedService.GetUserTimeline of a random seeded user
	OpPost           // PostService.CreatePost with @mentions
	numOps
)

var opNames = [numOps]string{"home", "user", "post"}

// opCalls names each op's RPC in reports.
var opCalls = [numOps]string{"GetHomeTimeline", "GetUserTimeline", "CreatePost"}

func (o Op) String() string { return opNames[o] }

// DefaultMix is DeathStarBench's social-network mix.
const DefaultMix = "home=60,user=30,post=10"

// Mix is the share of each op in the workload.
type Mix struct {
	weights [numOps]int
	total   int
}

// ParseMix reads "home=60,user=30,post=10" (weights, not necessarily summing
// to 100; missing ops get 0; at least one must be positive).
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		i := slices.Index(opNames[:], name)
		if !ok || i < 0 {
			return Mix{}, fmt.Errorf("mix %q: want name=weight with names %v", s, opNames)
		}
		if seen[name] {
			return Mix{}, fmt.Errorf("mix %q: %s given twice", s, name)
		}
		seen[name] = true
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 {
			return Mix{}, fmt.Errorf("mix %q: weight of %s must be a non-negative integer", s, name)
		}
		m.weights[i] = w
		m.total += w
	}
	if m.total == 0 {
		return Mix{}, fmt.Errorf("mix %q: no op has a positive weight", s)
	}
	return m, nil
}

// Pick draws an op with probability weight/total.
func (m Mix) Pick(rng *rand.Rand) Op {
	r := rng.IntN(m.total)
	for i, w := range m.weights {
		if r < w {
			return Op(i)
		}
		r -= w
	}
	panic("unreachable: weights sum to total")
}

// Share returns op's fraction of the mix.
func (m Mix) Share(op Op) float64 { return float64(m.weights[op]) / float64(m.total) }

// Weights returns the mix as name → weight.
func (m Mix) Weights() map[string]int {
	out := map[string]int{}
	for i, w := range m.weights {
		out[opNames[i]] = w
	}
	return out
}

func (m Mix) String() string {
	parts := make([]string, 0, numOps)
	for i, w := range m.weights {
		parts = append(parts, fmt.Sprintf("%s=%d", opNames[i], w))
	}
	return strings.Join(parts, ",")
}

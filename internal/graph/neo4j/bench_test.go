package neo4j

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/storetest"
)

// Benchmark graph: one author followed by benchFollowers users, among them
// a community shaped like the socfb-Reed98 friendship graph of the
// DeathStarBench social network (962 users, 18,812 undirected edges, degree
// min 1 / median 29 / p90 87 / max 313), generated here with a fixed seed and
// loaded as friendships (FRIEND and FOLLOWS both ways), plus benchExtra
// users who follow nobody.
const (
	benchFollowers = 100_000
	benchCommunity = 962
	benchFriends   = 18_812
	benchExtra     = 1_000
	benchBatch     = 10_000
	benchPage      = 1_000
)

// communityEdges returns benchFriends distinct undirected edges between n
// users with a heavy-tailed degree distribution (Chung–Lu: endpoints drawn
// in proportion to log-normal weights with Reed98's median and p90 degree).
func communityEdges(n, m int, rng *rand.Rand) [][2]int {
	const mu, sigma = 3.37, 0.857 // ln 29; ln(87/29)/z(0.9)
	cum := make([]float64, n)
	total := 0.0
	for i := range cum {
		w := math.Min(313, math.Max(1, math.Exp(mu+sigma*rng.NormFloat64())))
		total += w
		cum[i] = total
	}
	pick := func() int { return sort.SearchFloat64s(cum, rng.Float64()*total) }
	seen := make(map[[2]int]bool, m)
	edges := make([][2]int, 0, m)
	for len(edges) < m {
		a, b := pick(), pick()
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		if e := [2]int{a, b}; !seen[e] {
			seen[e] = true
			edges = append(edges, e)
		}
	}
	return edges
}

type benchGraph struct {
	s         *Store
	author    string
	community []string
	extra     []string
	adjacent  map[[2]int]bool
}

// seedBench loads the benchmark graph with UNWIND batches and removes it at
// cleanup. IDs carry a random prefix, so runs never collide.
func seedBench(b *testing.B) *benchGraph {
	db := storetest.Neo4j(b)
	ctx := context.Background()
	s := New(db)
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	prefix := storetest.UniqueName("bench")
	g := &benchGraph{s: s, author: prefix + "_author", adjacent: map[[2]int]bool{}}
	exec := func(q string, params map[string]any) {
		b.Helper()
		if _, err := db.Run(ctx, q, params); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	b.Cleanup(func() {
		// Relationships first, so no transaction deletes the author's 100k at once.
		for _, q := range []string{
			`MATCH (u:User)-[r]->() WHERE u.id STARTS WITH $p WITH r LIMIT 10000 DELETE r RETURN count(*) AS n`,
			`MATCH (u:User) WHERE u.id STARTS WITH $p WITH u LIMIT 10000 DETACH DELETE u RETURN count(*) AS n`,
		} {
			for {
				res, err := db.Run(context.Background(), q, map[string]any{"p": prefix + "_"})
				if err != nil {
					b.Errorf("cleanup: %v", err)
					return
				}
				if n, _ := res.Records[0].Get("n"); n == int64(0) {
					break
				}
			}
		}
	})

	start := time.Now()
	var ids []string
	fans := make([]string, 0, benchFollowers)
	for i := 0; i < benchFollowers; i++ {
		id := fmt.Sprintf("%s_fan%06d", prefix, i)
		if i < benchCommunity {
			id = fmt.Sprintf("%s_c%03d", prefix, i)
			g.community = append(g.community, id)
		}
		fans = append(fans, id)
	}
	for i := 0; i < benchExtra; i++ {
		g.extra = append(g.extra, fmt.Sprintf("%s_x%04d", prefix, i))
	}
	ids = append(append(append(ids, g.author), fans...), g.extra...)
	for i := 0; i < len(ids); i += benchBatch {
		exec(`UNWIND $ids AS id CREATE (:User {id: id, private: false})`, map[string]any{"ids": toAny(ids[i:min(i+benchBatch, len(ids))])})
	}

	// Edge times: distinct, increasing, ending about now.
	at := time.Now().Add(-time.Hour).UnixNano()
	next := func() int64 { at += 1000; return at }
	var rows []any
	flush := func(q string) {
		for len(rows) > 0 {
			n := min(len(rows), benchBatch)
			exec(q, map[string]any{"rows": rows[:n]})
			rows = rows[n:]
		}
	}
	for _, f := range fans {
		rows = append(rows, map[string]any{"a": f, "b": g.author, "p": edgeProps(follows, f, g.author, next())})
	}
	flush(`UNWIND $rows AS row MATCH (a:User {id: row.a}), (b:User {id: row.b}) CREATE (a)-[r:FOLLOWS]->(b) SET r = row.p`)

	rng := rand.New(rand.NewSource(98))
	deg := make([]int, benchCommunity)
	for _, e := range communityEdges(benchCommunity, benchFriends, rng) {
		g.adjacent[e] = true
		deg[e[0]]++
		deg[e[1]]++
		x, y := g.community[e[0]], g.community[e[1]]
		t := next()
		rows = append(rows, map[string]any{"a": x, "b": y,
			"fab": edgeProps(friend, x, y, t), "fba": edgeProps(friend, y, x, t),
			"wab": edgeProps(follows, x, y, t), "wba": edgeProps(follows, y, x, t)})
	}
	flush(`UNWIND $rows AS row MATCH (a:User {id: row.a}), (b:User {id: row.b})
CREATE (a)-[f1:FRIEND]->(b), (b)-[f2:FRIEND]->(a), (a)-[w1:FOLLOWS]->(b), (b)-[w2:FOLLOWS]->(a)
SET f1 = row.fab, f2 = row.fba, w1 = row.wab, w2 = row.wba`)
	sort.Ints(deg)
	b.Logf("seeded %d users, %d follows of the author, %d friendships (degree min %d, median %d, p90 %d, max %d) in %v",
		len(ids), len(fans), benchFriends, deg[0], deg[len(deg)/2], deg[len(deg)*9/10], deg[len(deg)-1],
		time.Since(start).Round(time.Millisecond))
	return g
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// latencies collects per-operation durations and reports percentiles.
type latencies []time.Duration

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	pct := func(p int) float64 { return float64(l[min(len(l)-1, len(l)*p/100)].Microseconds()) }
	b.ReportMetric(pct(50), "p50-µs")
	b.ReportMetric(pct(99), "p99-µs")
}

func BenchmarkGraph(b *testing.B) {
	g := seedBench(b)
	ctx := context.Background()
	s := g.s
	n := len(g.community)

	// randomPairs are distinct community users, unconnected unless adjacent.
	randomPairs := func(count int, adjacent bool, rng *rand.Rand) [][2]string {
		out := make([][2]string, 0, count)
		for len(out) < count {
			i, j := rng.Intn(n), rng.Intn(n)
			if i == j || g.adjacent[[2]int{min(i, j), max(i, j)}] != adjacent {
				continue
			}
			out = append(out, [2]string{g.community[i], g.community[j]})
		}
		return out
	}

	b.Run("Follow", func(b *testing.B) {
		pairs := randomPairs(b.N, false, rand.New(rand.NewSource(1)))
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p := pairs[i]
			l.time(func() {
				if _, changed, err := s.Follow(ctx, p[0], p[1]); err != nil || !changed {
					b.Fatalf("Follow: %v %v", changed, err)
				}
			})
			b.StopTimer()
			if _, err := s.Unfollow(ctx, p[0], p[1]); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		l.report(b)
	})

	b.Run("FollowAuthor100k", func(b *testing.B) {
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			x := g.extra[i%len(g.extra)]
			l.time(func() {
				if _, changed, err := s.Follow(ctx, x, g.author); err != nil || !changed {
					b.Fatalf("Follow: %v %v", changed, err)
				}
			})
			b.StopTimer()
			if _, err := s.Unfollow(ctx, x, g.author); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		l.report(b)
	})

	b.Run("Relationship", func(b *testing.B) {
		rng := rand.New(rand.NewSource(2))
		pairs := append(randomPairs(b.N/2+1, true, rng), randomPairs(b.N/2+1, false, rng)...)
		rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p := pairs[i]
			l.time(func() {
				if _, err := s.Relationship(ctx, p[0], p[1]); err != nil {
					b.Fatal(err)
				}
			})
		}
		l.report(b)
	})

	b.Run("RelationshipAuthor100k", func(b *testing.B) {
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			x := g.community[i%n]
			l.time(func() {
				if r, err := s.Relationship(ctx, x, g.author); err != nil || !r.Following {
					b.Fatalf("Relationship: %+v %v", r, err)
				}
			})
		}
		l.report(b)
	})

	// The author's follower pages and their cursors, walked once untimed.
	var cursors []string
	for cur := ""; ; {
		cursors = append(cursors, cur)
		p, err := s.Followers(ctx, g.author, cur, benchPage)
		if err != nil {
			b.Fatal(err)
		}
		if cur = p.Next; cur == "" {
			break
		}
	}
	if len(cursors) != benchFollowers/benchPage {
		b.Fatalf("%d follower pages, want %d", len(cursors), benchFollowers/benchPage)
	}
	lo, hi := keyPrefix(g.author), keyEnd(g.author)
	ops := profile(ctx, b, s.db, listQuery(follows, "ik"), map[string]any{"lo": lo, "hi": hi, "skip": len(lo), "n": benchPage + 1})
	b.Logf("follower page plan: %s", strings.Join(ops, " <- "))

	b.Run("FollowersFirstPage1000", func(b *testing.B) {
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			l.time(func() {
				if p, err := s.Followers(ctx, g.author, "", benchPage); err != nil || len(p.Edges) != benchPage {
					b.Fatalf("Followers: %d %v", len(p.Edges), err)
				}
			})
		}
		l.report(b)
	})

	b.Run("FollowersAnyPage1000", func(b *testing.B) {
		rng := rand.New(rand.NewSource(3))
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			cur := cursors[rng.Intn(len(cursors))]
			l.time(func() {
				if p, err := s.Followers(ctx, g.author, cur, benchPage); err != nil || len(p.Edges) != benchPage {
					b.Fatalf("Followers: %d %v", len(p.Edges), err)
				}
			})
		}
		l.report(b)
	})

	b.Run("FollowersWalk100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			total := 0
			for cur := ""; ; {
				p, err := s.Followers(ctx, g.author, cur, benchPage)
				if err != nil {
					b.Fatal(err)
				}
				total += len(p.Edges)
				if cur = p.Next; cur == "" {
					break
				}
			}
			if total != benchFollowers {
				b.Fatalf("walked %d followers, want %d", total, benchFollowers)
			}
		}
	})

	b.Run("Counts", func(b *testing.B) {
		var l latencies
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ids := []string{g.author, g.community[i%n]}
			l.time(func() {
				if m, err := s.Counts(ctx, ids); err != nil || m[g.author].Followers != benchFollowers {
					b.Fatalf("Counts: %v %v", m, err)
				}
			})
		}
		l.report(b)
	})

	b.Run("Suggest", func(b *testing.B) {
		var l latencies
		var got int
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			x := g.community[(i*7919)%n]
			l.time(func() {
				sg, err := s.Suggest(ctx, x, 20)
				if err != nil {
					b.Fatal(err)
				}
				got += len(sg)
			})
		}
		l.report(b)
		b.ReportMetric(float64(got)/float64(b.N), "suggestions/op")
	})
}

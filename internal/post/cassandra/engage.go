package cassandra

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// Likes and reposts of a hot post contend for the Paxos rounds of its shard
// partitions: each conditional batch must read the shard's n and win the
// round, and concurrent proposers on one partition mostly lose (Cassandra
// then backs off for up to 100 ms). So within one Store, concurrent
// engagements of the same shard partition are committed together: the
// first caller starts a committer for the partition, later callers queue,
// and each round writes up to maxGroup users' membership and listing rows,
// each IF NOT EXISTS, with n = m+k IF n = m, in one batch. Exactness is the
// same as for a single like (the batch is atomic, and a user whose row
// already exists fails it, is answered changed=false and left out of the
// next round). Other processes contend as before; the group commit only
// removes the contention within a process.

// maxGroup bounds the users of one round (a batch of 2 statements each,
// below Cassandra's batch size warning).
const maxGroup = 16

// groupTimeout bounds a committer's round trips; it runs detached from the
// callers' contexts since it serves several of them.
const groupTimeout = 30 * time.Second

type partition struct {
	postID string
	verb   int8
	shard  int8
}

type engageReq struct {
	user string
	at   time.Time
	op   string // tells this call's write from a concurrent duplicate's
	done chan engageRes
}

type engageRes struct {
	changed bool
	err     error
}

type groups struct {
	mu     sync.Mutex
	queues map[partition][]*engageReq // present while a committer runs
}

// engage adds userID to the post's verb set.
func (s *Store) engage(ctx context.Context, verb int8, postID, userID string, at time.Time) (bool, error) {
	if userID == "" {
		return false, errors.New("post: engagement needs a user")
	}
	live, err := s.isLive(ctx, postID)
	if err != nil {
		return false, err
	}
	if !live {
		return false, notFound("post", postID)
	}
	k := partition{postID, verb, shardOf(userID)}
	r := &engageReq{user: userID, at: ms(at), op: gocql.TimeUUID().String(), done: make(chan engageRes, 1)}
	g := &s.groups
	g.mu.Lock()
	if g.queues == nil {
		g.queues = map[partition][]*engageReq{}
	}
	q, running := g.queues[k]
	g.queues[k] = append(q, r)
	g.mu.Unlock()
	if !running {
		go s.commit(context.WithoutCancel(ctx), k)
	}
	select {
	case res := <-r.done:
		return res.changed, res.err
	case <-ctx.Done():
		// Like any timed-out write, it may still be applied.
		return false, ctx.Err()
	}
}

// commit runs rounds for partition k until its queue is empty.
func (s *Store) commit(ctx context.Context, k partition) {
	g := &s.groups
	for {
		g.mu.Lock()
		q := g.queues[k]
		if len(q) == 0 {
			delete(g.queues, k)
			g.mu.Unlock()
			return
		}
		// Take up to maxGroup distinct users; a duplicate waits for the next
		// round (where its user's row exists and it is answered false).
		var round, rest []*engageReq
		seen := map[string]bool{}
		for _, r := range q {
			if len(round) < maxGroup && !seen[r.user] {
				seen[r.user] = true
				round = append(round, r)
			} else {
				rest = append(rest, r)
			}
		}
		g.queues[k] = rest
		g.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, groupTimeout)
		err := s.engageRound(rctx, k, round)
		cancel()
		if err != nil {
			for _, r := range round {
				select { // the answered have a full buffer: skip them
				case r.done <- engageRes{err: fmt.Errorf("post: engage %s: %w", k.postID, err)}:
				default:
				}
			}
		}
	}
}

// engageRound commits one round; every request it answers gets one value on
// its done channel (the channel holds one, so later sends are dropped).
func (s *Store) engageRound(ctx context.Context, k partition, round []*engageReq) error {
	answer := func(r *engageReq, changed bool) {
		select {
		case r.done <- engageRes{changed: changed}:
		default:
		}
	}
	answerErr := func(r *engageReq, err error) {
		select {
		case r.done <- engageRes{err: err}:
		default:
		}
	}
	pending := round
	for attempt := 0; len(pending) > 0; attempt++ {
		old, err := s.readN(ctx, attempt, `SELECT n FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? LIMIT 1`, k.postID, k.verb, k.shard)
		if err == nil {
			nw, cond := nArgs(old, int64(len(pending)))
			b := s.batch(ctx)
			for _, r := range pending {
				b.Query(`INSERT INTO engagement (post_id, verb, shard, kind, at, user_id, op, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
					k.postID, k.verb, k.shard, kindMember, epoch, r.user, r.op, r.at)
				b.Query(`INSERT INTO engagement (post_id, verb, shard, kind, at, user_id) VALUES (?, ?, ?, ?, ?, ?)`,
					k.postID, k.verb, k.shard, kindListing, r.at, r.user)
			}
			b.Query(`UPDATE engagement SET n = ? WHERE post_id = ? AND verb = ? AND shard = ? IF n = ?`, nw, k.postID, k.verb, k.shard, cond)
			var applied bool
			var rows []map[string]any
			applied, rows, err = s.cas(b)
			if err == nil {
				if applied {
					gone, err := s.eraseIfDeleted(ctx, k.postID)
					if err != nil {
						return err
					}
					for _, r := range pending {
						if gone {
							answerErr(r, notFound("post", k.postID))
						} else {
							answer(r, true)
						}
					}
					return nil
				}
				// Users already in the set are answered and left out; if only
				// n moved, the next attempt re-reads it.
				members := map[string]string{}
				for _, row := range rows {
					if u, _ := row["user_id"].(string); u != "" && row["kind"] == kindMember {
						members[u], _ = row["op"].(string)
					}
				}
				pending = settle(pending, members, answer)
			}
		}
		if err != nil && uncertain(err) {
			// Did our batch land? The serial read completes any round in flight.
			var members map[string]string
			members, err = s.memberOps(ctx, k, pending)
			if err == nil {
				pending = settle(pending, members, answer)
			} else if uncertain(err) {
				err = nil
			}
		}
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return nil
}

// settle answers the requests whose user is in members (changed when the
// row is this request's own write) and returns the others.
func settle(pending []*engageReq, members map[string]string, answer func(*engageReq, bool)) []*engageReq {
	var left []*engageReq
	for _, r := range pending {
		if op, ok := members[r.user]; ok {
			answer(r, op == r.op)
		} else {
			left = append(left, r)
		}
	}
	return left
}

// memberOps reads, serially, which of the requests' users are members of
// the partition and with which op.
func (s *Store) memberOps(ctx context.Context, k partition, reqs []*engageReq) (map[string]string, error) {
	users := make([]string, len(reqs))
	for i, r := range reqs {
		users[i] = r.user
	}
	it := s.serial(ctx, `SELECT user_id, op FROM engagement WHERE post_id = ? AND verb = ? AND shard = ? AND kind = ? AND at = ? AND user_id IN ?`,
		k.postID, k.verb, k.shard, kindMember, epoch, users).Iter()
	out := map[string]string{}
	var u, op string
	for it.Scan(&u, &op) {
		out[u] = op
	}
	return out, it.Close()
}

// eraseIfDeleted closes the race between an engagement and a Delete of its
// post: the post was live when the call began, but a Delete may have
// removed the engagement partitions just before our batch wrote to them.
// Delete marks the post before it removes them, so if the post is still
// live now, a later Delete will remove what we wrote; if not, we remove it.
func (s *Store) eraseIfDeleted(ctx context.Context, postID string) (bool, error) {
	live, err := s.isLive(ctx, postID)
	if err != nil || live {
		return false, err
	}
	// A server-side timestamp orders the tombstone after the Paxos writes
	// of the same coordinator's clock (client and server clocks may differ).
	err = s.query(ctx, `DELETE FROM engagement WHERE post_id = ? AND verb IN ? AND shard IN ?`,
		postID, []int8{verbLike, verbRepost}, allShards).DefaultTimestamp(false).Idempotent(true).Exec()
	return err == nil, err
}

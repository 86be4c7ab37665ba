// Package neo4j implements the graph store port on Neo4j (scale profile).
//
// # Model
//
// A user is a (:User {id, private}) node (unique constraint on id). Every
// edge is a directed relationship carrying at, the unix nanoseconds of its
// creation, taken once in Go per call: FOLLOWS, FOLLOW_REQUESTED, FRIEND,
// FRIEND_REQUESTED, BLOCKS and MUTES. A friendship is two FRIEND
// relationships, one per direction, so listing or counting one user's
// friends is a walk of its outgoing FRIEND relationships only. Friends also
// follow each other (two FOLLOWS), as the port requires.
//
// # Index-backed pages
//
// Lists must not expand and sort all of a node's relationships: the fan-out
// reads the followers of authors with 100k+ followers a page at a time. So
// each relationship carries a sort key per direction it is listed in:
//
//	ik = esc(to)   + "!" + %020d(at) + "!" + esc(from)   incoming lists: followers, requests received
//	ok = esc(from) + "!" + %020d(at) + "!" + esc(to)     outgoing lists: following, friends, requests sent, blocks, mutes
//
// with a relationship range index on each (follows_ik, follows_ok, …; see
// migrations). esc keeps IDs readable and order-preserving (keys.go): the
// keys of one user are exactly the strings between esc(user)+"!" and
// esc(user)+"\"" (no other user's key falls in between, whatever the IDs),
// and within that range they sort by (at, other user's ID bytes) — the
// port's order, as in the SQLite adapter and the shared cursor, newest first
// when read descending. A page is one range seek read backwards in index
// order:
//
//	MATCH ()-[r:FOLLOWS]->() WHERE r.ik > $lo AND r.ik < $hi
//	WITH r.ik AS k ORDER BY k DESC LIMIT $n
//	RETURN collect(substring(k, $skip)) AS ks
//
// where lo is esc(user)+"!" and hi is esc(user)+"\"" on the first page, or
// the key of the cursor's edge (graph.DecodeCursor gives its time and user)
// on the next ones. The planner answers it with
// DirectedRelationshipIndexSeekByRange in descending index order, then
// Limit (no Sort, no Expand, no scan; TestPagePlans checks every list), and
// reads the keys from the index itself: the edge's time and user are parsed
// from the key, so a page touches neither nodes nor relationship records.
// The page comes back as one record holding a list, because Bolt costs
// about 10 µs per record: a 1,001-key page takes ~2 ms this way, ~11 ms as
// 1,001 records.
//
// # Writes
//
// Every mutation between two users runs in one write transaction that first
// takes the write locks of both user nodes, in id order, and then reads the
// relationships between them. The lock is SET u.id = u.id: setting a
// property takes the node's write lock, and the value stays as it is. (REMOVE
// of a never-set property would not do: when its key has never been used,
// Cypher skips it and takes no lock.) The rules (blocks, privacy,
// crossing friend requests) are then decided in Go on a state no other
// transaction can change before commit, and the writes use MERGE, so
// concurrent identical calls create one relationship and exactly one of them
// reports changed. Going public locks the user and turns its pending
// requests into follows in the same transaction. Deadlocks between
// transactions that lock overlapping users are retried by the driver
// (ExecuteWrite).
//
// # Reads
//
// Relationship is one query whose Expand(Into) walks the side with the
// smaller degree, so a pair with a celebrity stays cheap. Counts are degree
// lookups (COUNT { (u)<-[:FOLLOWS]-() } reads the node's degree, not its
// relationships). Suggest is one query: the two-hop paths of both reasons
// and the excluding edges are summed per candidate in one aggregation (see
// suggestQuery), so its cost is linear in the two-hop paths.
package neo4j

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	engine "github.com/ejazz/ejazz/internal/engine/neo4j"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the graph store on Neo4j.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ graph.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: graph.Component, EngineName: "neo4j", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "user constraint", Statements: []string{
		"CREATE CONSTRAINT user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE",
	}},
	{Version: 2, Name: "relationship sort-key indexes", Statements: []string{
		"CREATE INDEX follows_ik IF NOT EXISTS FOR ()-[r:FOLLOWS]-() ON (r.ik)",
		"CREATE INDEX follows_ok IF NOT EXISTS FOR ()-[r:FOLLOWS]-() ON (r.ok)",
		"CREATE INDEX follow_requested_ik IF NOT EXISTS FOR ()-[r:FOLLOW_REQUESTED]-() ON (r.ik)",
		"CREATE INDEX friend_ok IF NOT EXISTS FOR ()-[r:FRIEND]-() ON (r.ok)",
		"CREATE INDEX friend_requested_ik IF NOT EXISTS FOR ()-[r:FRIEND_REQUESTED]-() ON (r.ik)",
		"CREATE INDEX friend_requested_ok IF NOT EXISTS FOR ()-[r:FRIEND_REQUESTED]-() ON (r.ok)",
		"CREATE INDEX blocks_ok IF NOT EXISTS FOR ()-[r:BLOCKS]-() ON (r.ok)",
		"CREATE INDEX mutes_ok IF NOT EXISTS FOR ()-[r:MUTES]-() ON (r.ok)",
		"CALL db.awaitIndexes(300)",
	}},
}

// Relationship types.
const (
	follows         = "FOLLOWS"
	followRequested = "FOLLOW_REQUESTED"
	friend          = "FRIEND"
	friendRequested = "FRIEND_REQUESTED"
	blocks          = "BLOCKS"
	mutes           = "MUTES"
)

// Which sort keys each relationship type carries: ik for the lists of its
// end node, ok for the lists of its start node.
var keyed = map[string]struct{ in, out bool }{
	follows:         {in: true, out: true},
	followRequested: {in: true},
	friend:          {out: true},
	friendRequested: {in: true, out: true},
	blocks:          {out: true},
	mutes:           {out: true},
}

// now is the time a mutation records on its edges (graph.WithTime).
func now(ctx context.Context) int64 { return graph.TimeOf(ctx).UnixNano() }

// edgeProps are the properties of a new from→to relationship of type typ.
func edgeProps(typ, from, to string, at int64) map[string]any {
	p := map[string]any{"at": at}
	k := keyed[typ]
	if k.in {
		p["ik"] = sortKey(to, at, from)
	}
	if k.out {
		p["ok"] = sortKey(from, at, to)
	}
	return p
}

// wrap names the operation in err.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("graph/neo4j: %s: %w", op, err)
}

// read runs a read-only query in an auto-retried transaction.
func (s *Store) read(ctx context.Context, query string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := neo4j.ExecuteQuery(ctx, s.db.Driver, query, params, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase(s.db.Database), neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		return nil, err
	}
	return res.Records, nil
}

// write runs work in one write transaction, retried by the driver on
// transient errors (deadlocks); work must not keep state across attempts
// other than what it sets on success.
func (s *Store) write(ctx context.Context, work func(tx neo4j.ManagedTransaction) error) error {
	sess := s.db.Driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.db.Database, AccessMode: neo4j.AccessModeWrite})
	defer func() { _ = sess.Close(ctx) }()
	_, err := sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return nil, work(tx)
	})
	return err
}

// run runs one statement in tx and collects its records.
func run(ctx context.Context, tx neo4j.ManagedTransaction, query string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// pairState is what lies between users a and b, read under their locks.
type pairState struct {
	aPrivate, bPrivate bool
	out, in            map[string]bool // relationship types a→b and b→a
}

func (p pairState) blocked() bool { return p.out[blocks] || p.in[blocks] }

// The relationships between two bound users. Expand(Into) walks the side
// with the smaller degree, so a pair with a celebrity stays cheap.
const pairReturn = `
RETURN coalesce(a.private, false) AS ap, coalesce(b.private, false) AS bp,
	[(a)-[r]->(b) | type(r)] AS out, [(b)-[r]->(a) | type(r)] AS inc`

// lockPairQuery locks the users, then reads between them. The reads use the
// nodes collected after the locks (an eager aggregation), so no plan can read
// the relationships before holding both locks.
const lockPairQuery = `
MATCH (u:User) WHERE u.id IN $ids
SET u.id = u.id
WITH collect(u) AS us
WITH [x IN us WHERE x.id = $a][0] AS a, [x IN us WHERE x.id = $b][0] AS b
WHERE a IS NOT NULL AND b IS NOT NULL` + pairReturn

// lockPair write-locks the nodes of a and b, seeking them in id order to
// keep deadlocks rare (the driver retries the ones that happen), and returns
// the state between them; storage.ErrNotFound when either is missing.
func lockPair(ctx context.Context, tx neo4j.ManagedTransaction, a, b string) (pairState, error) {
	ids := []any{a, b}
	if b < a {
		ids = []any{b, a}
	}
	recs, err := run(ctx, tx, lockPairQuery, map[string]any{"ids": ids, "a": a, "b": b})
	if err != nil {
		return pairState{}, err
	}
	return decodePair(recs)
}

func decodePair(recs []*neo4j.Record) (pairState, error) {
	if len(recs) == 0 {
		return pairState{}, fmt.Errorf("user %w", storage.ErrNotFound)
	}
	r := recs[0]
	p := pairState{out: map[string]bool{}, in: map[string]bool{}}
	p.aPrivate, _ = get[bool](r, "ap")
	p.bPrivate, _ = get[bool](r, "bp")
	out, _ := get[[]any](r, "out")
	for _, t := range out {
		if s, ok := t.(string); ok {
			p.out[s] = true
		}
	}
	in, _ := get[[]any](r, "inc")
	for _, t := range in {
		if s, ok := t.(string); ok {
			p.in[s] = true
		}
	}
	return p, nil
}

// get reads a typed value of a record.
func get[T any](r *neo4j.Record, key string) (T, bool) {
	var zero T
	v, ok := r.Get(key)
	if !ok || v == nil {
		return zero, false
	}
	t, ok := v.(T)
	return t, ok
}

// create merges the from→to relationship of type typ.
func create(ctx context.Context, tx neo4j.ManagedTransaction, typ, from, to string, at int64) error {
	_, err := run(ctx, tx, `
MATCH (a:User {id: $from}), (b:User {id: $to})
MERGE (a)-[r:`+typ+`]->(b) ON CREATE SET r = $props`,
		map[string]any{"from": from, "to": to, "props": edgeProps(typ, from, to, at)})
	return err
}

// remove deletes the from→to relationships of the given types.
func remove(ctx context.Context, tx neo4j.ManagedTransaction, from, to string, types ...string) error {
	_, err := run(ctx, tx, `
MATCH (a:User {id: $from})-[r:`+strings.Join(types, "|")+`]->(b:User {id: $to})
DELETE r`, map[string]any{"from": from, "to": to})
	return err
}

// befriend records the friendship and the follows both ways and drops the
// follow requests between a and b (and a friend request, if any).
func befriend(ctx context.Context, tx neo4j.ManagedTransaction, a, b string, at int64) error {
	_, err := run(ctx, tx, `
MATCH (a:User {id: $a}), (b:User {id: $b})
CALL { WITH a, b MATCH (a)-[x:FOLLOW_REQUESTED|FRIEND_REQUESTED]-(b) DELETE x }
MERGE (a)-[f1:FRIEND]->(b) ON CREATE SET f1 = $fab
MERGE (b)-[f2:FRIEND]->(a) ON CREATE SET f2 = $fba
MERGE (a)-[w1:FOLLOWS]->(b) ON CREATE SET w1 = $wab
MERGE (b)-[w2:FOLLOWS]->(a) ON CREATE SET w2 = $wba`, map[string]any{
		"a": a, "b": b,
		"fab": edgeProps(friend, a, b, at), "fba": edgeProps(friend, b, a, at),
		"wab": edgeProps(follows, a, b, at), "wba": edgeProps(follows, b, a, at),
	})
	return err
}

// PutUser creates the user or changes its privacy; going public approves
// the pending follow requests in the same transaction.
func (s *Store) PutUser(ctx context.Context, userID string, private bool) ([]string, error) {
	at := now(ctx)
	var approved []string
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		approved = nil
		recs, err := run(ctx, tx, `
MERGE (u:User {id: $id})
ON CREATE SET u.private = $private
SET u.id = u.id
WITH u, coalesce(u.private, false) AS was
SET u.private = $private
RETURN was`, map[string]any{"id": userID, "private": private})
		if err != nil {
			return err
		}
		if was, _ := get[bool](recs[0], "was"); private || !was {
			return nil
		}
		recs, err = run(ctx, tx, `MATCH (f:User)-[:FOLLOW_REQUESTED]->(:User {id: $id}) RETURN collect(f.id) AS ids`,
			map[string]any{"id": userID})
		if err != nil {
			return err
		}
		ids, _ := get[[]any](recs[0], "ids")
		if len(ids) == 0 {
			return nil
		}
		rows := make([]any, 0, len(ids))
		for _, v := range ids {
			id, _ := v.(string)
			approved = append(approved, id)
			rows = append(rows, map[string]any{"id": id, "props": edgeProps(follows, id, userID, at)})
		}
		_, err = run(ctx, tx, `
MATCH (u:User {id: $id})
UNWIND $rows AS row
MATCH (f:User {id: row.id})-[q:FOLLOW_REQUESTED]->(u)
DELETE q
MERGE (f)-[r:FOLLOWS]->(u) ON CREATE SET r = row.props`, map[string]any{"id": userID, "rows": rows})
		return err
	})
	if err != nil {
		return nil, wrap("put user", err)
	}
	return approved, nil
}

// DeleteUser removes the user and every relationship touching it.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	return wrap("delete user", s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		_, err := run(ctx, tx, `MATCH (u:User {id: $id}) DETACH DELETE u`, map[string]any{"id": userID})
		return err
	}))
}

// Follow follows to, or requests to follow it when to is private.
func (s *Store) Follow(ctx context.Context, from, to string) (state graph.FollowState, changed bool, err error) {
	at := now(ctx)
	err = s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		state, changed = graph.NotFollowing, false
		p, err := lockPair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		switch {
		case p.blocked():
			return graph.ErrBlocked
		case p.out[follows]:
			state = graph.Following
			return nil
		case p.out[followRequested]:
			state = graph.Requested
			return nil
		}
		typ, st := follows, graph.Following
		if p.bPrivate {
			typ, st = followRequested, graph.Requested
		}
		if err := create(ctx, tx, typ, from, to, at); err != nil {
			return err
		}
		state, changed = st, true
		return nil
	})
	if err != nil {
		return graph.NotFollowing, false, wrap("follow", err)
	}
	return state, changed, nil
}

// Unfollow removes a follow or a pending follow request.
func (s *Store) Unfollow(ctx context.Context, from, to string) (bool, error) {
	return s.removeIf(ctx, "unfollow", from, to, follows, followRequested)
}

// removeIf deletes the from→to relationships of the given types and reports
// whether there were any.
func (s *Store) removeIf(ctx context.Context, op, from, to string, types ...string) (bool, error) {
	var changed bool
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		changed = false
		p, err := lockPair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		for _, t := range types {
			changed = changed || p.out[t]
		}
		if !changed {
			return nil
		}
		return remove(ctx, tx, from, to, types...)
	})
	return changed, wrap(op, err)
}

// ApproveFollowRequest turns from's pending request into a follow.
func (s *Store) ApproveFollowRequest(ctx context.Context, owner, from string) error {
	at := now(ctx)
	return wrap("approve follow request", s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		p, err := lockPair(ctx, tx, from, owner)
		if err != nil {
			return err
		}
		if !p.out[followRequested] {
			return fmt.Errorf("follow request %w", storage.ErrNotFound)
		}
		if err := remove(ctx, tx, from, owner, followRequested); err != nil {
			return err
		}
		return create(ctx, tx, follows, from, owner, at)
	}))
}

// RejectFollowRequest drops from's pending request.
func (s *Store) RejectFollowRequest(ctx context.Context, owner, from string) error {
	return wrap("reject follow request", s.removeOrNotFound(ctx, from, owner, followRequested, "follow request"))
}

// removeOrNotFound deletes the from→to relationship of type typ;
// storage.ErrNotFound when there is none.
func (s *Store) removeOrNotFound(ctx context.Context, from, to, typ, what string) error {
	return s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		p, err := lockPair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		if !p.out[typ] {
			return fmt.Errorf("%s %w", what, storage.ErrNotFound)
		}
		return remove(ctx, tx, from, to, typ)
	})
}

// SendFriendRequest asks to to be friends, or accepts to's pending request.
func (s *Store) SendFriendRequest(ctx context.Context, from, to string) (bool, error) {
	at := now(ctx)
	var friends bool
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		friends = false
		p, err := lockPair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		switch {
		case p.blocked():
			return graph.ErrBlocked
		case p.out[friend] || p.in[friend]:
			return fmt.Errorf("friendship %w", storage.ErrAlreadyExists)
		case p.out[friendRequested]:
			return fmt.Errorf("friend request %w", storage.ErrAlreadyExists)
		case p.in[friendRequested]:
			friends = true
			return befriend(ctx, tx, from, to, at)
		}
		return create(ctx, tx, friendRequested, from, to, at)
	})
	if err != nil {
		return false, wrap("send friend request", err)
	}
	return friends, nil
}

// RespondToFriendRequest accepts or declines from's pending request to owner.
func (s *Store) RespondToFriendRequest(ctx context.Context, owner, from string, accept bool) error {
	at := now(ctx)
	return wrap("respond to friend request", s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		p, err := lockPair(ctx, tx, from, owner)
		if err != nil {
			return err
		}
		if !p.out[friendRequested] {
			return fmt.Errorf("friend request %w", storage.ErrNotFound)
		}
		if accept {
			return befriend(ctx, tx, owner, from, at)
		}
		return remove(ctx, tx, from, owner, friendRequested)
	}))
}

// CancelFriendRequest withdraws from's pending request to to.
func (s *Store) CancelFriendRequest(ctx context.Context, from, to string) error {
	return wrap("cancel friend request", s.removeOrNotFound(ctx, from, to, friendRequested, "friend request"))
}

// RemoveFriend ends the friendship and the follows both ways.
func (s *Store) RemoveFriend(ctx context.Context, a, b string) (bool, error) {
	var changed bool
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		p, err := lockPair(ctx, tx, a, b)
		if err != nil {
			return err
		}
		changed = p.out[friend] || p.in[friend]
		if !changed {
			return nil
		}
		_, err = run(ctx, tx, `
MATCH (a:User {id: $a})-[r:FRIEND|FOLLOWS]-(b:User {id: $b})
DELETE r`, map[string]any{"a": a, "b": b})
		return err
	})
	return changed, wrap("remove friend", err)
}

// Block makes from block to and removes the follows, requests and
// friendship between them, both ways.
func (s *Store) Block(ctx context.Context, from, to string) (bool, error) {
	at := now(ctx)
	var changed bool
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		p, err := lockPair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		changed = !p.out[blocks]
		_, err = run(ctx, tx, `
MATCH (a:User {id: $from}), (b:User {id: $to})
CALL { WITH a, b MATCH (a)-[x:FOLLOWS|FOLLOW_REQUESTED|FRIEND|FRIEND_REQUESTED]-(b) DELETE x }
MERGE (a)-[r:BLOCKS]->(b) ON CREATE SET r = $props`,
			map[string]any{"from": from, "to": to, "props": edgeProps(blocks, from, to, at)})
		return err
	})
	return changed, wrap("block", err)
}

// Unblock removes from's block of to.
func (s *Store) Unblock(ctx context.Context, from, to string) (bool, error) {
	return s.removeIf(ctx, "unblock", from, to, blocks)
}

// Mute makes from mute to.
func (s *Store) Mute(ctx context.Context, from, to string) (bool, error) {
	at := now(ctx)
	var changed bool
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		p, err := lockPair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		changed = !p.out[mutes]
		if !changed {
			return nil
		}
		return create(ctx, tx, mutes, from, to, at)
	})
	return changed, wrap("mute", err)
}

// Unmute removes from's mute of to.
func (s *Store) Unmute(ctx context.Context, from, to string) (bool, error) {
	return s.removeIf(ctx, "unmute", from, to, mutes)
}

// Followers lists who follows userID.
func (s *Store) Followers(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, follows, "ik", userID, cursor, limit)
}

// Following lists whom userID follows.
func (s *Store) Following(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, follows, "ok", userID, cursor, limit)
}

// FollowRequests lists pending requests to follow userID.
func (s *Store) FollowRequests(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, followRequested, "ik", userID, cursor, limit)
}

// Friends lists userID's friends, newest friendship first.
func (s *Store) Friends(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, friend, "ok", userID, cursor, limit)
}

// FriendRequests lists pending friend requests to (incoming) or from userID.
func (s *Store) FriendRequests(ctx context.Context, userID string, incoming bool, cursor string, limit int) (graph.Page, error) {
	key := "ok"
	if incoming {
		key = "ik"
	}
	return s.list(ctx, friendRequested, key, userID, cursor, limit)
}

// Blocked lists whom userID blocks.
func (s *Store) Blocked(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, blocks, "ok", userID, cursor, limit)
}

// Muted lists whom userID mutes.
func (s *Store) Muted(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, mutes, "ok", userID, cursor, limit)
}

// listQuery is the page query on the sort key prop of relationship type typ:
// a range seek of its index read in descending order, returning the keys
// (values the index holds) without the owner's prefix as one list — one
// record per page rather than per edge, which costs ~10 µs a record over
// Bolt (a 1,001-edge page: ~2 ms instead of ~11 ms).
func listQuery(typ, prop string) string {
	return `MATCH ()-[r:` + typ + `]->() WHERE r.` + prop + ` > $lo AND r.` + prop + ` < $hi
WITH r.` + prop + ` AS k ORDER BY k DESC LIMIT $n
RETURN collect(substring(k, $skip)) AS ks`
}

// list pages userID's relationships of type typ by sort key prop (ik:
// incoming, ok: outgoing), newest first.
func (s *Store) list(ctx context.Context, typ, prop, userID, cursor string, limit int) (graph.Page, error) {
	if err := graph.CheckLimit(limit); err != nil {
		return graph.Page{}, err
	}
	after, ok, err := graph.DecodeCursor(cursor)
	if err != nil {
		return graph.Page{}, err
	}
	lo, hi := keyPrefix(userID), keyEnd(userID)
	if ok {
		hi = sortKey(userID, after.At.UnixNano(), after.UserID)
	}
	recs, err := s.read(ctx, listQuery(typ, prop), map[string]any{"lo": lo, "hi": hi, "skip": len(lo), "n": limit + 1})
	if err != nil {
		return graph.Page{}, wrap("list", err)
	}
	var keys []any
	if len(recs) == 1 {
		keys, _ = get[[]any](recs[0], "ks")
	}
	edges := make([]graph.Edge, 0, len(keys))
	for _, k := range keys {
		tail, _ := k.(string)
		e, err := parseTail(tail)
		if err != nil {
			return graph.Page{}, wrap("list", err)
		}
		edges = append(edges, e)
	}
	return graph.PageOf(edges, limit), nil
}

// Relationship describes from's relationship to to.
func (s *Store) Relationship(ctx context.Context, from, to string) (graph.Relationship, error) {
	recs, err := s.read(ctx, `MATCH (a:User {id: $a}), (b:User {id: $b})`+pairReturn, map[string]any{"a": from, "b": to})
	if err != nil {
		return graph.Relationship{}, wrap("relationship", err)
	}
	p, err := decodePair(recs)
	if err != nil {
		return graph.Relationship{}, wrap("relationship", err)
	}
	return p.relationship(), nil
}

// relationship turns the edge types between a and b into a's view.
func (p pairState) relationship() graph.Relationship {
	return graph.Relationship{
		Following:             p.out[follows],
		FollowedBy:            p.in[follows],
		FollowRequested:       p.out[followRequested],
		FollowRequestReceived: p.in[followRequested],
		Friends:               p.out[friend] || p.in[friend],
		FriendRequestSent:     p.out[friendRequested],
		FriendRequestReceived: p.in[friendRequested],
		Blocking:              p.out[blocks],
		BlockedBy:             p.in[blocks],
		Muting:                p.out[mutes],
		MutedBy:               p.in[mutes],
	}
}

// Relationships describes from's relationship to each known user of to in
// one query (users missing from the graph are left out).
func (s *Store) Relationships(ctx context.Context, from string, to []string) (map[string]graph.Relationship, error) {
	out := make(map[string]graph.Relationship, len(to))
	if len(to) == 0 {
		return out, nil
	}
	ids := make([]any, len(to))
	for i, id := range to {
		ids[i] = id
	}
	recs, err := s.read(ctx, `MATCH (a:User {id: $a}) UNWIND $ids AS id MATCH (b:User {id: id})
RETURN b.id AS id, [(a)-[r]->(b) | type(r)] AS out, [(b)-[r]->(a) | type(r)] AS inc`, map[string]any{"a": from, "ids": ids})
	if err != nil {
		return nil, wrap("relationships", err)
	}
	for _, r := range recs {
		id, _ := get[string](r, "id")
		p, err := decodePair([]*neo4j.Record{r})
		if err != nil {
			return nil, wrap("relationships", err)
		}
		out[id] = p.relationship()
	}
	return out, nil
}

// MutedBy returns who mutes userID.
func (s *Store) MutedBy(ctx context.Context, userID string) ([]string, error) {
	recs, err := s.read(ctx, `MATCH (m:User)-[:MUTES]->(:User {id: $id}) RETURN m.id AS id`, map[string]any{"id": userID})
	if err != nil {
		return nil, wrap("muted by", err)
	}
	return ids(recs), nil
}

// Popular returns the users with at least minFollowers followers: a scan of
// the User nodes reading each one's FOLLOWS in-degree from the count store.
func (s *Store) Popular(ctx context.Context, minFollowers int) ([]string, error) {
	recs, err := s.read(ctx, `MATCH (u:User) WHERE COUNT { (u)<-[:FOLLOWS]-() } >= $n RETURN u.id AS id ORDER BY id`, map[string]any{"n": minFollowers})
	if err != nil {
		return nil, wrap("popular", err)
	}
	return ids(recs), nil
}

func ids(recs []*neo4j.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		if id, ok := get[string](r, "id"); ok {
			out = append(out, id)
		}
	}
	return out
}

// Counts returns followers, following and friends of each known user, as
// degree lookups.
func (s *Store) Counts(ctx context.Context, userIDs []string) (map[string]graph.Counts, error) {
	out := make(map[string]graph.Counts, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	ids := make([]any, len(userIDs))
	for i, id := range userIDs {
		ids[i] = id
	}
	recs, err := s.read(ctx, `
UNWIND $ids AS id
MATCH (u:User {id: id})
RETURN u.id AS id,
	COUNT { (u)<-[:FOLLOWS]-() } AS followers,
	COUNT { (u)-[:FOLLOWS]->() } AS following,
	COUNT { (u)-[:FRIEND]->() } AS friends`, map[string]any{"ids": ids})
	if err != nil {
		return nil, wrap("counts", err)
	}
	for _, r := range recs {
		id, _ := get[string](r, "id")
		var c graph.Counts
		c.Followers, _ = get[int64](r, "followers")
		c.Following, _ = get[int64](r, "following")
		c.Friends, _ = get[int64](r, "friends")
		out[id] = c
	}
	return out, nil
}

// suggestQuery collects, in one pass, the friends of friends (a row per
// mutual friend), the users followed by followed users (a row per followed
// user who follows them) and the excluded users (a row per edge that
// excludes them), sums the three per candidate in one hash aggregation, keeps
// those never excluded and ranks them: friends of friends first (a
// candidate reached both ways counts as one), then by mutual count and ID.
// Exclusions are marked rather than checked per candidate, so the cost is
// linear in the two-hop paths plus userID's degree.
const suggestQuery = `
MATCH (me:User {id: $id})
CALL {
	WITH me
	MATCH (me)-[:FRIEND]->()-[:FRIEND]->(c)
	RETURN c, 1 AS fof, 0 AS fbf, 0 AS excluded
	UNION ALL
	WITH me
	MATCH (me)-[:FOLLOWS]->()-[:FOLLOWS]->(c)
	RETURN c, 0 AS fof, 1 AS fbf, 0 AS excluded
	UNION ALL
	WITH me
	MATCH (me)-[:FOLLOWS|FOLLOW_REQUESTED|FRIEND|BLOCKS|MUTES]->(c)
	RETURN c, 0 AS fof, 0 AS fbf, 1 AS excluded
	UNION ALL
	WITH me
	MATCH (me)<-[:BLOCKS]-(c)
	RETURN c, 0 AS fof, 0 AS fbf, 1 AS excluded
}
WITH me, c, sum(fof) AS fof, sum(fbf) AS fbf, sum(excluded) AS excluded
WHERE excluded = 0 AND c <> me
WITH c.id AS id,
	CASE WHEN fof > 0 THEN 0 ELSE 1 END AS tier,
	CASE WHEN fof > 0 THEN fof ELSE fbf END AS mutual
RETURN id, tier, mutual
ORDER BY tier, mutual DESC, id
LIMIT $limit`

// Suggest ranks friends of friends, then users followed by followed users.
func (s *Store) Suggest(ctx context.Context, userID string, limit int) ([]graph.Suggestion, error) {
	if err := graph.CheckLimit(limit); err != nil {
		return nil, err
	}
	recs, err := s.read(ctx, suggestQuery, map[string]any{"id": userID, "limit": limit})
	if err != nil {
		return nil, wrap("suggest", err)
	}
	out := make([]graph.Suggestion, 0, len(recs))
	for _, r := range recs {
		id, _ := get[string](r, "id")
		tier, _ := get[int64](r, "tier")
		mutual, _ := get[int64](r, "mutual")
		sg := graph.Suggestion{UserID: id, Mutual: int(mutual), Reason: graph.FriendsOfFriends}
		if tier == 1 {
			sg.Reason = graph.FollowedByFollowing
		}
		out = append(out, sg)
	}
	return out, nil
}

// scanFollowsQuery is a page of ScanFollows: the planner reads follows_ok
// in ascending order from $after and stops at $n (TestScanPlan).
const scanFollowsQuery = `MATCH (a:User)-[r:FOLLOWS]->(b:User) WHERE r.ok > $after
WITH a, r, b ORDER BY r.ok LIMIT $n
RETURN collect([r.ok, a.id, b.id, r.at]) AS es`

// ScanFollows pages through the FOLLOWS relationships in the order of their
// outgoing sort key (follower, time, followed): one range seek of the
// follows_ok index per page, reading the ends and time from the graph (not
// from the key); the cursor holds the last key.
func (s *Store) ScanFollows(ctx context.Context, cursor string, limit int) ([]graph.FollowEdge, string, error) {
	if err := graph.CheckLimit(limit); err != nil {
		return nil, "", err
	}
	after, err := graph.DecodeScanCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	recs, err := s.read(ctx, scanFollowsQuery, map[string]any{"after": after, "n": limit})
	if err != nil {
		return nil, "", wrap("scan follows", err)
	}
	var rows []any
	if len(recs) == 1 {
		rows, _ = get[[]any](recs[0], "es")
	}
	out := make([]graph.FollowEdge, 0, len(rows))
	var last string
	for _, r := range rows {
		v, _ := r.([]any)
		if len(v) != 4 {
			return nil, "", wrap("scan follows", fmt.Errorf("unexpected row %v", r))
		}
		last, _ = v[0].(string)
		from, _ := v[1].(string)
		to, _ := v[2].(string)
		at, _ := v[3].(int64)
		out = append(out, graph.FollowEdge{From: from, To: to, At: time.Unix(0, at).UTC()})
	}
	if len(out) < limit {
		return out, "", nil
	}
	return out, graph.EncodeScanCursor(last), nil
}

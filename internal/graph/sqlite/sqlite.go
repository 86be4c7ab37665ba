// Package sqlite implements the graph store port on SQLite (embedded
// profile): a users table (id, privacy) and one edges table keyed by (kind,
// from, to) with indexes for both directions ordered by time, so every list
// is an index range scan. A friendship is stored as two 'friend' rows, one
// per direction. Writes go through engine.DB.Write, one at a time.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/storage"
)

// Edge kinds.
const (
	follow    = "follow"
	followReq = "follow_req"
	friend    = "friend"
	friendReq = "friend_req"
	block     = "block"
	mute      = "mute"
)

// allKinds lists every kind, so that queries by user can use the indexes,
// which all lead with kind.
const allKinds = "('follow', 'follow_req', 'friend', 'friend_req', 'block', 'mute')"

// Store is the graph store on SQLite.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ graph.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: graph.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "edges", Statements: []string{
		`CREATE TABLE IF NOT EXISTS edges (
	kind       TEXT NOT NULL,
	from_id    TEXT NOT NULL,
	to_id      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (kind, from_id, to_id)
)`,
		"CREATE INDEX IF NOT EXISTS edges_to ON edges (kind, to_id, from_id)",
	}},
	// Version 1's table was never written to; version 2 replaces it.
	{Version: 2, Name: "users and timed edges", Statements: []string{
		"DROP TABLE IF EXISTS edges",
		`CREATE TABLE IF NOT EXISTS graph_users (
	id      TEXT PRIMARY KEY,
	private INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS graph_edges (
	kind    TEXT    NOT NULL,
	from_id TEXT    NOT NULL,
	to_id   TEXT    NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (kind, from_id, to_id)
) WITHOUT ROWID`,
		"CREATE INDEX IF NOT EXISTS graph_edges_out ON graph_edges (kind, from_id, at, to_id)",
		"CREATE INDEX IF NOT EXISTS graph_edges_in ON graph_edges (kind, to_id, at, from_id)",
	}},
}

// now is the time a mutation records on its edges (graph.WithTime).
func now(ctx context.Context) int64 { return graph.TimeOf(ctx).UnixNano() }

// PutUser creates the user or changes its privacy; going public approves
// pending follow requests.
func (s *Store) PutUser(ctx context.Context, userID string, private bool) ([]string, error) {
	var approved []string
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO graph_users (id, private) VALUES (?, ?)
ON CONFLICT (id) DO UPDATE SET private = excluded.private`, userID, private); err != nil {
			return err
		}
		if private {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM graph_edges WHERE kind = ? AND to_id = ? RETURNING from_id`, followReq, userID)
		if err != nil {
			return err
		}
		if approved, err = scanIDs(rows); err != nil {
			return err
		}
		t := now(ctx)
		for _, f := range approved {
			if err := put(ctx, tx, follow, f, userID, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("graph: put user: %w", err)
	}
	return approved, nil
}

// DeleteUser removes the user and its edges.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	return wrap("delete user", s.db.Write(ctx, func(tx *sql.Tx) error {
		// Two index range deletes (kind IN … is a prefix of both indexes)
		// rather than one scan of the table.
		for _, col := range []string{"from_id", "to_id"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM graph_edges WHERE kind IN `+allKinds+` AND `+col+` = ?`, userID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM graph_users WHERE id = ?`, userID)
		return err
	}))
}

// Follow follows to or requests to follow it.
func (s *Store) Follow(ctx context.Context, from, to string) (state graph.FollowState, changed bool, err error) {
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		private, err := pair(ctx, tx, from, to)
		if err != nil {
			return err
		}
		if err := notBlocked(ctx, tx, from, to); err != nil {
			return err
		}
		if ok, err := has(ctx, tx, follow, from, to); err != nil || ok {
			state = graph.Following
			return err
		}
		kind, st := follow, graph.Following
		if private {
			kind, st = followReq, graph.Requested
		}
		state = st
		changed, err = add(ctx, tx, kind, from, to, now(ctx))
		return err
	})
	return state, changed, wrap("follow", err)
}

// Unfollow removes a follow or a pending follow request.
func (s *Store) Unfollow(ctx context.Context, from, to string) (bool, error) {
	var n int64
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := pair(ctx, tx, from, to); err != nil {
			return err
		}
		var err error
		n, err = del(ctx, tx, from, to, follow, followReq)
		return err
	})
	return n > 0, wrap("unfollow", err)
}

// ApproveFollowRequest turns a pending request into a follow.
func (s *Store) ApproveFollowRequest(ctx context.Context, owner, from string) error {
	return wrap("approve follow request", s.db.Write(ctx, func(tx *sql.Tx) error {
		n, err := del(ctx, tx, from, owner, followReq)
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		return put(ctx, tx, follow, from, owner, now(ctx))
	}))
}

// RejectFollowRequest drops a pending request.
func (s *Store) RejectFollowRequest(ctx context.Context, owner, from string) error {
	return wrap("reject follow request", s.db.Write(ctx, func(tx *sql.Tx) error {
		n, err := del(ctx, tx, from, owner, followReq)
		if err == nil && n == 0 {
			err = storage.ErrNotFound
		}
		return err
	}))
}

// SendFriendRequest asks to to be friends, or accepts to's pending request.
func (s *Store) SendFriendRequest(ctx context.Context, from, to string) (friends bool, err error) {
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := pair(ctx, tx, from, to); err != nil {
			return err
		}
		if err := notBlocked(ctx, tx, from, to); err != nil {
			return err
		}
		if ok, err := has(ctx, tx, friend, from, to); err != nil || ok {
			return errors.Join(err, alreadyIf(ok))
		}
		if ok, err := has(ctx, tx, friendReq, from, to); err != nil || ok {
			return errors.Join(err, alreadyIf(ok))
		}
		n, err := del(ctx, tx, to, from, friendReq)
		if err != nil {
			return err
		}
		if n > 0 {
			friends = true
			return befriend(ctx, tx, from, to)
		}
		_, err = add(ctx, tx, friendReq, from, to, now(ctx))
		return err
	})
	return friends, wrap("send friend request", err)
}

func alreadyIf(ok bool) error {
	if ok {
		return storage.ErrAlreadyExists
	}
	return nil
}

// RespondToFriendRequest accepts or declines from's request to owner.
func (s *Store) RespondToFriendRequest(ctx context.Context, owner, from string, accept bool) error {
	return wrap("respond to friend request", s.db.Write(ctx, func(tx *sql.Tx) error {
		n, err := del(ctx, tx, from, owner, friendReq)
		if err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		if !accept {
			return nil
		}
		return befriend(ctx, tx, owner, from)
	}))
}

// befriend records the friendship both ways, follows both ways, and drops
// the follow requests between a and b.
func befriend(ctx context.Context, tx *sql.Tx, a, b string) error {
	t := now(ctx)
	if _, err := del(ctx, tx, a, b, followReq); err != nil {
		return err
	}
	if _, err := del(ctx, tx, b, a, followReq); err != nil {
		return err
	}
	for _, e := range [][3]string{{friend, a, b}, {friend, b, a}, {follow, a, b}, {follow, b, a}} {
		if err := put(ctx, tx, e[0], e[1], e[2], t); err != nil {
			return err
		}
	}
	return nil
}

// CancelFriendRequest withdraws from's pending request to to.
func (s *Store) CancelFriendRequest(ctx context.Context, from, to string) error {
	return wrap("cancel friend request", s.db.Write(ctx, func(tx *sql.Tx) error {
		n, err := del(ctx, tx, from, to, friendReq)
		if err == nil && n == 0 {
			err = storage.ErrNotFound
		}
		return err
	}))
}

// RemoveFriend ends the friendship and both follows.
func (s *Store) RemoveFriend(ctx context.Context, a, b string) (bool, error) {
	var changed bool
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := pair(ctx, tx, a, b); err != nil {
			return err
		}
		n, err := del(ctx, tx, a, b, friend)
		if err != nil || n == 0 {
			return err
		}
		changed = true
		if _, err := del(ctx, tx, b, a, friend); err != nil {
			return err
		}
		if _, err := del(ctx, tx, a, b, follow); err != nil {
			return err
		}
		_, err = del(ctx, tx, b, a, follow)
		return err
	})
	return changed, wrap("remove friend", err)
}

// Block blocks to and removes every other edge between the two.
func (s *Store) Block(ctx context.Context, from, to string) (bool, error) {
	var changed bool
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := pair(ctx, tx, from, to); err != nil {
			return err
		}
		for _, d := range [][2]string{{from, to}, {to, from}} {
			if _, err := del(ctx, tx, d[0], d[1], follow, followReq, friend, friendReq); err != nil {
				return err
			}
		}
		var err error
		changed, err = add(ctx, tx, block, from, to, now(ctx))
		return err
	})
	return changed, wrap("block", err)
}

// Unblock removes from's block of to.
func (s *Store) Unblock(ctx context.Context, from, to string) (bool, error) {
	return s.remove(ctx, "unblock", block, from, to)
}

// Mute makes from mute to.
func (s *Store) Mute(ctx context.Context, from, to string) (bool, error) {
	var changed bool
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := pair(ctx, tx, from, to); err != nil {
			return err
		}
		var err error
		changed, err = add(ctx, tx, mute, from, to, now(ctx))
		return err
	})
	return changed, wrap("mute", err)
}

// Unmute removes from's mute of to.
func (s *Store) Unmute(ctx context.Context, from, to string) (bool, error) {
	return s.remove(ctx, "unmute", mute, from, to)
}

func (s *Store) remove(ctx context.Context, op, kind, from, to string) (bool, error) {
	var n int64
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := pair(ctx, tx, from, to); err != nil {
			return err
		}
		var err error
		n, err = del(ctx, tx, from, to, kind)
		return err
	})
	return n > 0, wrap(op, err)
}

// Followers lists who follows userID.
func (s *Store) Followers(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, follow, true, userID, cursor, limit)
}

// Following lists whom userID follows.
func (s *Store) Following(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, follow, false, userID, cursor, limit)
}

// FollowRequests lists pending requests to follow userID.
func (s *Store) FollowRequests(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, followReq, true, userID, cursor, limit)
}

// Friends lists userID's friends.
func (s *Store) Friends(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, friend, false, userID, cursor, limit)
}

// FriendRequests lists pending friend requests to or from userID.
func (s *Store) FriendRequests(ctx context.Context, userID string, incoming bool, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, friendReq, incoming, userID, cursor, limit)
}

// Blocked lists whom userID blocks.
func (s *Store) Blocked(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, block, false, userID, cursor, limit)
}

// Muted lists whom userID mutes.
func (s *Store) Muted(ctx context.Context, userID, cursor string, limit int) (graph.Page, error) {
	return s.list(ctx, mute, false, userID, cursor, limit)
}

// list pages the edges of kind into (incoming) or out of userID, newest
// first, as a range scan of graph_edges_in or graph_edges_out.
func (s *Store) list(ctx context.Context, kind string, incoming bool, userID, cursor string, limit int) (graph.Page, error) {
	if err := graph.CheckLimit(limit); err != nil {
		return graph.Page{}, err
	}
	after, ok, err := graph.DecodeCursor(cursor)
	if err != nil {
		return graph.Page{}, err
	}
	self, other := "from_id", "to_id"
	if incoming {
		self, other = other, self
	}
	q := `SELECT ` + other + `, at FROM graph_edges WHERE kind = ? AND ` + self + ` = ?`
	args := []any{kind, userID}
	if ok {
		q += ` AND (at, ` + other + `) < (?, ?)`
		args = append(args, after.At.UnixNano(), after.UserID)
	}
	q += ` ORDER BY at DESC, ` + other + ` DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return graph.Page{}, wrap("list", err)
	}
	defer rows.Close()
	var edges []graph.Edge
	for rows.Next() {
		var e graph.Edge
		var at int64
		if err := rows.Scan(&e.UserID, &at); err != nil {
			return graph.Page{}, wrap("list", err)
		}
		e.At = time.Unix(0, at).UTC()
		edges = append(edges, e)
	}
	if err := rows.Err(); err != nil {
		return graph.Page{}, wrap("list", err)
	}
	return graph.PageOf(edges, limit), nil
}

// Relationship describes from's relationship to to.
func (s *Store) Relationship(ctx context.Context, from, to string) (graph.Relationship, error) {
	var r graph.Relationship
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM graph_users WHERE id IN (?, ?)`, from, to).Scan(&n); err != nil {
		return r, wrap("relationship", err)
	}
	if want := 2 - boolInt(from == to); n != want {
		return r, wrap("relationship", storage.ErrNotFound)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT kind, 1 FROM graph_edges WHERE kind IN `+allKinds+` AND from_id = ?1 AND to_id = ?2
UNION ALL SELECT kind, 0 FROM graph_edges WHERE kind IN `+allKinds+` AND from_id = ?2 AND to_id = ?1`, from, to)
	if err != nil {
		return r, wrap("relationship", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var out bool
		if err := rows.Scan(&kind, &out); err != nil {
			return r, wrap("relationship", err)
		}
		apply(&r, kind, out)
	}
	return r, wrap("relationship", rows.Err())
}

// Relationships describes from's relationship to each known user of to:
// one query for the users, one for the edges both ways (index seeks).
func (s *Store) Relationships(ctx context.Context, from string, to []string) (map[string]graph.Relationship, error) {
	out := make(map[string]graph.Relationship, len(to))
	if len(to) == 0 {
		return out, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(to)), ",")
	args := make([]any, 0, 2*len(to)+2)
	for _, id := range to {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM graph_users WHERE id IN (`+ph+`)`, args...)
	if err != nil {
		return nil, wrap("relationships", err)
	}
	known, err := scanIDs(rows)
	if err != nil {
		return nil, wrap("relationships", err)
	}
	var me int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM graph_users WHERE id = ?`, from).Scan(&me); err != nil {
		return nil, wrap("relationships", err)
	}
	if me == 0 {
		return out, nil
	}
	for _, id := range known {
		if id != from {
			out[id] = graph.Relationship{}
		}
	}
	q := `SELECT kind, to_id, 1 FROM graph_edges WHERE kind IN ` + allKinds + ` AND from_id = ? AND to_id IN (` + ph + `)
UNION ALL SELECT kind, from_id, 0 FROM graph_edges WHERE kind IN ` + allKinds + ` AND to_id = ? AND from_id IN (` + ph + `)`
	all := append(append(append([]any{from}, args...), from), args...)
	rows, err = s.db.QueryContext(ctx, q, all...)
	if err != nil {
		return nil, wrap("relationships", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, other string
		var outgoing bool
		if err := rows.Scan(&kind, &other, &outgoing); err != nil {
			return nil, wrap("relationships", err)
		}
		r, ok := out[other]
		if !ok {
			continue
		}
		apply(&r, kind, outgoing)
		out[other] = r
	}
	return out, wrap("relationships", rows.Err())
}

// apply sets the flag of one edge between the two users of r.
func apply(r *graph.Relationship, kind string, out bool) {
	switch {
	case kind == follow && out:
		r.Following = true
	case kind == follow:
		r.FollowedBy = true
	case kind == followReq && out:
		r.FollowRequested = true
	case kind == followReq:
		r.FollowRequestReceived = true
	case kind == friend:
		r.Friends = true
	case kind == friendReq && out:
		r.FriendRequestSent = true
	case kind == friendReq:
		r.FriendRequestReceived = true
	case kind == block && out:
		r.Blocking = true
	case kind == block:
		r.BlockedBy = true
	case kind == mute && out:
		r.Muting = true
	case kind == mute:
		r.MutedBy = true
	}
}

// Counts returns followers, following and friends of each known user.
func (s *Store) Counts(ctx context.Context, userIDs []string) (map[string]graph.Counts, error) {
	out := make(map[string]graph.Counts, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(userIDs)), ",")
	args := make([]any, 0, len(userIDs))
	for _, id := range userIDs {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT u.id,
	(SELECT count(*) FROM graph_edges WHERE kind = 'follow' AND to_id = u.id),
	(SELECT count(*) FROM graph_edges WHERE kind = 'follow' AND from_id = u.id),
	(SELECT count(*) FROM graph_edges WHERE kind = 'friend' AND from_id = u.id)
FROM graph_users u WHERE u.id IN (`+ph+`)`, args...)
	if err != nil {
		return nil, wrap("counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c graph.Counts
		if err := rows.Scan(&id, &c.Followers, &c.Following, &c.Friends); err != nil {
			return nil, wrap("counts", err)
		}
		out[id] = c
	}
	return out, wrap("counts", rows.Err())
}

// MutedBy returns who mutes userID.
func (s *Store) MutedBy(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT from_id FROM graph_edges WHERE kind = 'mute' AND to_id = ?`, userID)
	if err != nil {
		return nil, wrap("muted by", err)
	}
	ids, err := scanIDs(rows)
	return ids, wrap("muted by", err)
}

// Popular returns the users with at least minFollowers followers: one pass
// over the follow index, grouped by followee.
func (s *Store) Popular(ctx context.Context, minFollowers int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT to_id FROM graph_edges WHERE kind = 'follow' GROUP BY to_id HAVING count(*) >= ? ORDER BY to_id`, minFollowers)
	if err != nil {
		return nil, wrap("popular", err)
	}
	ids, err := scanIDs(rows)
	return ids, wrap("popular", err)
}

// Suggest ranks friends of friends, then users followed by followed users.
// CROSS JOIN fixes the join order (SQLite's planner hint): from the user's
// own edges outwards, never a scan of every edge of a kind.
func (s *Store) Suggest(ctx context.Context, userID string, limit int) ([]graph.Suggestion, error) {
	if err := graph.CheckLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `
WITH excluded(id) AS (
	SELECT ?1
	UNION SELECT to_id FROM graph_edges WHERE from_id = ?1 AND kind IN ('follow', 'follow_req', 'friend', 'block', 'mute')
	UNION SELECT from_id FROM graph_edges WHERE to_id = ?1 AND kind = 'block'
),
fof AS (
	SELECT f2.to_id AS id, count(*) AS mutual, 0 AS rank
	FROM graph_edges f1 CROSS JOIN graph_edges f2 ON f2.kind = 'friend' AND f2.from_id = f1.to_id
	WHERE f1.kind = 'friend' AND f1.from_id = ?1 AND f2.to_id NOT IN (SELECT id FROM excluded)
	GROUP BY f2.to_id
),
fbf AS (
	SELECT f2.to_id AS id, count(*) AS mutual, 1 AS rank
	FROM graph_edges f1 CROSS JOIN graph_edges f2 ON f2.kind = 'follow' AND f2.from_id = f1.to_id
	WHERE f1.kind = 'follow' AND f1.from_id = ?1 AND f2.to_id NOT IN (SELECT id FROM excluded)
		AND f2.to_id NOT IN (SELECT id FROM fof)
	GROUP BY f2.to_id
)
SELECT id, mutual, rank FROM (SELECT * FROM fof UNION ALL SELECT * FROM fbf)
ORDER BY rank, mutual DESC, id LIMIT ?2`, userID, limit)
	if err != nil {
		return nil, wrap("suggest", err)
	}
	defer rows.Close()
	var out []graph.Suggestion
	for rows.Next() {
		var sg graph.Suggestion
		var rank int
		if err := rows.Scan(&sg.UserID, &sg.Mutual, &rank); err != nil {
			return nil, wrap("suggest", err)
		}
		sg.Reason = graph.FriendsOfFriends
		if rank == 1 {
			sg.Reason = graph.FollowedByFollowing
		}
		out = append(out, sg)
	}
	return out, wrap("suggest", rows.Err())
}

// pair checks that both users exist and returns whether to is private.
func pair(ctx context.Context, tx *sql.Tx, from, to string) (toPrivate bool, err error) {
	var n int
	err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(CASE WHEN id = ?2 THEN private END), 0)
FROM graph_users WHERE id IN (?1, ?2)`, from, to).Scan(&n, &toPrivate)
	if err != nil {
		return false, err
	}
	if n != 2-boolInt(from == to) {
		return false, storage.ErrNotFound
	}
	return toPrivate, nil
}

func notBlocked(ctx context.Context, tx *sql.Tx, a, b string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM graph_edges WHERE kind = 'block'
AND ((from_id = ?1 AND to_id = ?2) OR (from_id = ?2 AND to_id = ?1))`, a, b).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return graph.ErrBlocked
	}
	return nil
}

func has(ctx context.Context, tx *sql.Tx, kind, from, to string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM graph_edges WHERE kind = ? AND from_id = ? AND to_id = ?`, kind, from, to).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// add inserts an edge unless it exists and says whether it did.
func add(ctx context.Context, tx *sql.Tx, kind, from, to string, at int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO graph_edges (kind, from_id, to_id, at) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING`, kind, from, to, at)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func put(ctx context.Context, tx *sql.Tx, kind, from, to string, at int64) error {
	_, err := add(ctx, tx, kind, from, to, at)
	return err
}

// del removes the from→to edges of the given kinds.
func del(ctx context.Context, tx *sql.Tx, from, to string, kinds ...string) (int64, error) {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(kinds)), ",")
	args := []any{from, to}
	for _, k := range kinds {
		args = append(args, k)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM graph_edges WHERE from_id = ? AND to_id = ? AND kind IN (`+ph+`)`, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func scanIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("graph: %s: %w", op, err)
}

// ScanFollows pages through the follow edges in (from, to) order, along the
// primary key; the cursor holds the last pair.
func (s *Store) ScanFollows(ctx context.Context, cursor string, limit int) ([]graph.FollowEdge, string, error) {
	if err := graph.CheckLimit(limit); err != nil {
		return nil, "", err
	}
	after, err := graph.DecodeScanCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	from, to, _ := strings.Cut(after, "\x00")
	rows, err := s.db.QueryContext(ctx, `SELECT from_id, to_id, at FROM graph_edges WHERE kind = ? AND (from_id, to_id) > (?, ?)
ORDER BY from_id, to_id LIMIT ?`, follow, from, to, limit)
	if err != nil {
		return nil, "", wrap("scan follows", err)
	}
	defer rows.Close()
	var out []graph.FollowEdge
	for rows.Next() {
		var e graph.FollowEdge
		var at int64
		if err := rows.Scan(&e.From, &e.To, &at); err != nil {
			return nil, "", wrap("scan follows", err)
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap("scan follows", err)
	}
	if len(out) < limit {
		return out, "", nil
	}
	last := out[len(out)-1]
	return out, graph.EncodeScanCursor(last.From + "\x00" + last.To), nil
}

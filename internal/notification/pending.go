package notification

import (
	"sort"
	"time"
)

// Event is one thing that happened to a recipient, as the batching
// workflow receives it (small enough to travel in signals).
type Event struct {
	// ID is the domain event's ID (internal/event): the same event
	// published twice has the same ID and is kept once.
	ID      string
	Kind    Kind
	ActorID string
	PostID  string `json:",omitempty"`
	At      time.Time
	// Undo cancels the pending events of Kind by ActorID on PostID (an
	// unlike, an unfollow…) instead of adding one. An undo that finds
	// nothing pending does nothing: what was delivered stays.
	Undo bool `json:",omitempty"`
}

// PendingGroup is what the batching workflow hands to delivery for one
// group key: the actors of one kind on one post, newest first.
type PendingGroup struct {
	Kind   Kind
	PostID string `json:",omitempty"`
	// Actors are distinct, newest first.
	Actors []string
	// At is the newest event's time.
	At time.Time
}

// Key is the group's key (GroupKey). A per-actor kind's group has one actor.
func (g PendingGroup) Key() string {
	actor := ""
	if len(g.Actors) > 0 {
		actor = g.Actors[0]
	}
	return GroupKey(g.Kind, g.PostID, actor)
}

// Pending holds the events a batching workflow has received and not yet
// delivered, in arrival order. It is plain data (it travels across
// continue-as-new) and deterministic: no map is ever iterated.
type Pending struct {
	Events []Event `json:",omitempty"`

	ids map[string]bool // index of Events' IDs, rebuilt after decoding
}

// Add takes events in: an undo removes the matching pending events (and
// is not kept), a repeated event ID is dropped, an event of an unknown kind
// is ignored.
func (p *Pending) Add(events ...Event) {
	for _, e := range events {
		if !e.Kind.Valid() || e.ActorID == "" {
			continue
		}
		if e.Undo {
			kept := p.Events[:0]
			for _, x := range p.Events {
				if x.Kind == e.Kind && x.ActorID == e.ActorID && x.PostID == e.PostID {
					delete(p.ids, x.ID)
					continue
				}
				kept = append(kept, x)
			}
			p.Events = kept
			continue
		}
		if p.has(e.ID) {
			continue
		}
		p.Events = append(p.Events, e)
		if e.ID != "" {
			p.ids[e.ID] = true
		}
	}
}

func (p *Pending) has(id string) bool {
	if p.ids == nil {
		p.ids = make(map[string]bool, len(p.Events))
		for _, x := range p.Events {
			p.ids[x.ID] = true
		}
	}
	return id != "" && p.ids[id]
}

// Len is the number of pending events.
func (p *Pending) Len() int { return len(p.Events) }

// Take returns the pending events grouped by key — groups in the order of
// their first event, actors within a group newest first — with the ID of
// the batch they make (BatchID of the events' IDs), and empties p.
func (p *Pending) Take() (groups []PendingGroup, batchID string) {
	if len(p.Events) == 0 {
		return nil, ""
	}
	ids := make([]string, 0, len(p.Events))
	index := map[string]int{}
	var members [][]Event
	for _, e := range p.Events {
		ids = append(ids, e.ID)
		g := PendingGroup{Kind: e.Kind, PostID: e.PostID, Actors: []string{e.ActorID}}
		key := g.Key()
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, g)
			members = append(members, nil)
		}
		members[i] = append(members[i], e)
	}
	for i := range groups {
		evs := members[i]
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].At.After(evs[b].At) })
		seen := map[string]bool{}
		groups[i].Actors = groups[i].Actors[:0]
		for _, e := range evs {
			if !seen[e.ActorID] {
				seen[e.ActorID] = true
				groups[i].Actors = append(groups[i].Actors, e.ActorID)
			}
		}
		groups[i].At = evs[0].At
	}
	p.Events, p.ids = nil, nil
	return groups, BatchID(ids)
}

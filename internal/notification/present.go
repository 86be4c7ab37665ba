package notification

import (
	"context"

	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/profile"
)

// ShownActors is how many actors a presented notification names.
const ShownActors = 3

// Shown is a notification as its recipient sees it: the actors they block,
// are blocked by or mute left out, the rest (at most ShownActors, newest
// first) with their profiles, and the summary text.
type Shown struct {
	Notification
	// Profiles are the shown actors' profiles, newest first.
	Profiles []profile.Profile
	// Count is the actor count without the hidden actors.
	Count   int
	Summary string
}

// Present prepares ns for their recipient userID, reading the
// relationships to and the profiles of every listed actor in one call each.
// A notification whose listed actors are all hidden (and that has no other
// actor) or gone is left out.
func Present(ctx context.Context, g graph.Store, profiles profile.Store, userID string, ns []Notification) ([]Shown, error) {
	var ids []string
	seen := map[string]bool{}
	for _, n := range ns {
		for _, a := range n.Actors {
			if !seen[a] {
				seen[a] = true
				ids = append(ids, a)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rels, err := g.Relationships(ctx, userID, ids)
	if err != nil {
		return nil, err
	}
	ps, err := profiles.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]profile.Profile, len(ps))
	for _, p := range ps {
		byID[p.UserID] = p
	}
	out := make([]Shown, 0, len(ns))
	for _, n := range ns {
		s := Shown{Notification: n, Count: n.ActorCount}
		for _, a := range n.Actors {
			r := rels[a]
			p, ok := byID[a]
			if !ok || r.Blocking || r.BlockedBy || r.Muting {
				s.Count--
				continue
			}
			if len(s.Profiles) < ShownActors {
				s.Profiles = append(s.Profiles, p)
			}
		}
		if len(s.Profiles) == 0 {
			continue
		}
		s.Count = max(s.Count, len(s.Profiles))
		names := make([]string, 0, len(s.Profiles))
		for _, p := range s.Profiles {
			names = append(names, Name(p))
		}
		s.Summary = Summary(n.Kind, names, s.Count)
		out = append(out, s)
	}
	return out, nil
}

// Name is how a user is called in notification texts: the display name,
// or the handle when there is none.
func Name(p profile.Profile) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return "@" + p.Handle
}

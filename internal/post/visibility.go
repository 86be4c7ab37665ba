package post

import "github.com/ejazz/ejazz/internal/graph"

// Visible decides whether viewer ("" for anonymous) may see p, given
// whether its author's account is private and viewer's relationship to the
// author (graph.Relationship from viewer to p.AuthorID; zero for anonymous).
//
// The author sees everything; a block either way hides everything; ONLY_ME
// is the author's; FRIENDS needs a friendship; FOLLOWERS needs an approved
// follow; PUBLIC is everyone's — except on a private account, whose posts
// are for approved followers only. Muting hides nothing here (it filters
// feeds and notifications).
func Visible(p Post, viewer string, authorPrivate bool, r graph.Relationship) bool {
	switch {
	case viewer != "" && viewer == p.AuthorID:
		return true
	case r.Blocking || r.BlockedBy:
		return false
	}
	switch p.Visibility {
	case Public:
		return !authorPrivate || r.Following
	case Followers:
		return r.Following
	case Friends:
		return r.Friends
	}
	return false
}

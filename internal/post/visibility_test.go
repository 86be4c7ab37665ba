package post

import (
	"testing"

	"github.com/ejazz/ejazz/internal/graph"
)

func TestVisible(t *testing.T) {
	type viewer struct {
		name string
		id   string
		rel  graph.Relationship
	}
	viewers := []viewer{
		{"anonymous", "", graph.Relationship{}},
		{"stranger", "s", graph.Relationship{}},
		{"follower", "f", graph.Relationship{Following: true}},
		{"friend", "fr", graph.Relationship{Friends: true, Following: true, FollowedBy: true}},
		{"blocked", "b", graph.Relationship{BlockedBy: true}},
		{"blocking", "bk", graph.Relationship{Blocking: true}},
		{"author", "a", graph.Relationship{}},
	}
	// want[visibility][private] = viewers who may see.
	want := map[Visibility]map[bool][]string{
		Public:    {false: {"anonymous", "stranger", "follower", "friend", "author"}, true: {"follower", "friend", "author"}},
		Followers: {false: {"follower", "friend", "author"}, true: {"follower", "friend", "author"}},
		Friends:   {false: {"friend", "author"}, true: {"friend", "author"}},
		OnlyMe:    {false: {"author"}, true: {"author"}},
	}
	for vis, byPrivate := range want {
		for private, allowed := range byPrivate {
			for _, v := range viewers {
				ok := false
				for _, a := range allowed {
					ok = ok || a == v.name
				}
				p := Post{AuthorID: "a", Visibility: vis}
				if got := Visible(p, v.id, private, v.rel); got != ok {
					t.Errorf("visibility %d, private %v, %s: Visible = %v, want %v", vis, private, v.name, got, ok)
				}
			}
		}
	}
}

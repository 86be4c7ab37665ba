package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
)

// User is one seeded user of the users file written by `ejazz admin seed`.
type User struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Handle   string `json:"handle"`
	Password string `json:"password"`
	// Followers are indexes of the users following this one.
	Followers []int32 `json:"followers"`
}

// UsersFile is the users file: the seeded graph's users, index i at
// position i.
type UsersFile struct {
	Graph  string `json:"graph"`
	Prefix string `json:"prefix"`
	Users  []User `json:"users"`
}

// LoadUsers reads and checks a users file.
func LoadUsers(path string) (*UsersFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f UsersFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	for i, u := range f.Users {
		if u.Index != i || u.ID == "" || u.Handle == "" || u.Password == "" {
			return nil, fmt.Errorf("%s: user %d: want index %d with id, handle and password", path, i, i)
		}
		for _, fo := range u.Followers {
			if fo < 0 || int(fo) >= len(f.Users) {
				return nil, fmt.Errorf("%s: user %d: follower %d out of range", path, i, fo)
			}
		}
	}
	return &f, nil
}

// SampleUsers picks n distinct users to sign in (all of them when n ≥ the
// number of users), deterministically from rng. The hubs users with the most
// followers come first; then, in random order, a user followed by up to 4 of
// its followers — so that the authors of sampled posts have signed-in
// followers whose home timelines can be watched, even in a large sparse graph.
func SampleUsers(users []User, n, hubs int, rng *rand.Rand) []int {
	if n >= len(users) {
		out := make([]int, len(users))
		for i := range out {
			out[i] = i
		}
		return out
	}
	in := make(map[int]bool, n)
	out := make([]int, 0, n)
	add := func(i int) {
		if len(out) < n && !in[i] {
			in[i] = true
			out = append(out, i)
		}
	}
	if hubs > 0 {
		byFollowers := make([]int, len(users))
		for i := range byFollowers {
			byFollowers[i] = i
		}
		slices.SortStableFunc(byFollowers, func(a, b int) int { return len(users[b].Followers) - len(users[a].Followers) })
		for _, i := range byFollowers[:min(hubs, len(byFollowers))] {
			add(i)
		}
	}
	for _, i := range rng.Perm(len(users)) {
		if len(out) >= n {
			break
		}
		add(i)
		fs := users[i].Followers
		for _, k := range rng.Perm(len(fs))[:min(4, len(fs))] {
			add(int(fs[k]))
		}
	}
	return out
}

// words fill generated posts.
var words = strings.Fields(`the a of to and in on for with at from by about after before today tonight
	coffee music campus library lecture exam project weekend party game team coach match goal city train
	bike rain sun snow friends family dinner lunch breakfast pizza tacos book movie show episode podcast
	code bug deploy server database graph timeline feed post photo trip beach mountain lake river park
	great awesome tired happy busy late early new old best worst really very just still already never`)

// PostText returns a post of about size characters (never more than size)
// mentioning 1 to 5 distinct handles drawn from handles, and the mentioned
// handles.
func PostText(rng *rand.Rand, handles []string, size int) (string, []string) {
	k := 1 + rng.IntN(min(5, len(handles)))
	mentioned := make([]string, 0, k)
	for _, i := range rng.Perm(len(handles))[:k] {
		mentioned = append(mentioned, handles[i])
	}
	mentionLen := 0
	for _, h := range mentioned {
		mentionLen += len(h) + 2 // "@" and a space
	}
	var b strings.Builder
	for b.Len() < size-mentionLen-1 {
		w := words[rng.IntN(len(words))]
		if b.Len()+len(w)+1 > size-mentionLen {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	body := strings.Fields(b.String())
	// Put each mention at a random word boundary.
	for _, h := range mentioned {
		at := rng.IntN(len(body) + 1)
		body = slices.Insert(body, at, "@"+h)
	}
	return strings.Join(body, " "), mentioned
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storage"
)

// PostStore is the conformance suite of the post port: create with
// idempotency keys, edits and their history, deletes that leave nothing
// behind, author and hashtag lists, likes and reposts that count exactly
// under concurrent retries, comments with one level of replies, and scans
// of every post, like, repost and comment.
func PostStore(t *testing.T, open func(t *testing.T) post.Store) {
	Lifecycle(t, post.Component, func(t *testing.T) storage.Store { return open(t) })

	newID := func(t *testing.T) string {
		t.Helper()
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		return id.String()
	}
	// at is a fixed instant plus n milliseconds (stores keep milliseconds or better).
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	at := func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }
	mk := func(t *testing.T, s post.Store, c context.Context, author, text string, tags ...string) post.Post {
		t.Helper()
		p := post.Post{ID: newID(t), AuthorID: author, Text: text, Visibility: post.Public, Hashtags: tags, CreatedAt: at(0)}
		got, created, err := s.Create(c, p, "")
		if err != nil || !created {
			t.Fatalf("Create: %v, %v", created, err)
		}
		return got
	}
	ids := func(ps []post.Post) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.ID
		}
		return out
	}
	counts := func(t *testing.T, s post.Store, c context.Context, id string) post.Counts {
		t.Helper()
		m, err := s.Counts(c, []string{id})
		if err != nil {
			t.Fatalf("Counts: %v", err)
		}
		return m[id]
	}
	eq := func(t *testing.T, what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	t.Run("create and get", func(t *testing.T) {
		s, c := migrated(t, open)
		author := UniqueName("a")
		want := post.Post{
			ID: newID(t), AuthorID: author, Text: "Hello #Go and @ana ✨", MediaIDs: []string{"m1", "m2"},
			Visibility: post.Friends, ContentWarning: "spoilers", QuotePostID: newID(t),
			Hashtags: []string{"go"}, Mentions: []string{"u-ana"}, CreatedAt: at(1),
		}
		got, created, err := s.Create(c, want, "")
		if err != nil || !created {
			t.Fatalf("Create = %v, %v", created, err)
		}
		eq(t, "Create", got, want)
		got, err = s.Get(c, want.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		eq(t, "Get", got, want)
		if !got.CreatedAt.Equal(want.CreatedAt) || !got.EditedAt.IsZero() {
			t.Errorf("times = %v / %v, want %v / zero", got.CreatedAt, got.EditedAt, want.CreatedAt)
		}
		if _, err := s.Get(c, newID(t)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
		other := mk(t, s, c, author, "second")
		many, err := s.GetMany(c, []string{other.ID, newID(t), want.ID})
		if err != nil {
			t.Fatalf("GetMany: %v", err)
		}
		eq(t, "GetMany", ids(many), []string{other.ID, want.ID})
		if cs := counts(t, s, c, want.ID); cs != (post.Counts{}) {
			t.Errorf("fresh counts = %+v", cs)
		}
	})

	t.Run("idempotency key", func(t *testing.T) {
		s, c := migrated(t, open)
		author, other := UniqueName("a"), UniqueName("b")
		first := post.Post{ID: newID(t), AuthorID: author, Text: "once", Visibility: post.Public, CreatedAt: at(0)}
		got, created, err := s.Create(c, first, "key-1")
		if err != nil || !created {
			t.Fatalf("Create = %v, %v", created, err)
		}
		retry := first
		retry.ID, retry.Text = newID(t), "once (retried)"
		got, created, err = s.Create(c, retry, "key-1")
		if err != nil || created || got.ID != first.ID || got.Text != "once" {
			t.Fatalf("retried Create = %+v, %v, %v; want the first post, not created", got, created, err)
		}
		if _, err := s.Get(c, retry.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the retry's post was stored too: Get = %v", err)
		}
		theirs := post.Post{ID: newID(t), AuthorID: other, Text: "mine", Visibility: post.Public, CreatedAt: at(0)}
		if _, created, err := s.Create(c, theirs, "key-1"); err != nil || !created {
			t.Errorf("another author's post with the same key = %v, %v; want created", created, err)
		}
		n, err := s.PostCounts(c, []string{author, other, "nobody"})
		if err != nil || n[author] != 1 || n[other] != 1 || n["nobody"] != 0 {
			t.Errorf("PostCounts = %v, %v", n, err)
		}
		if _, _, err := s.Delete(c, first.ID); err != nil {
			t.Fatal(err)
		}
		retry.ID = newID(t)
		if _, _, err := s.Create(c, retry, "key-1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Create retried after the post was deleted = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(c, retry.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the retry after delete stored a post: Get = %v", err)
		}
	})

	t.Run("edits keep history and reindex hashtags", func(t *testing.T) {
		s, c := migrated(t, open)
		old, tag := UniqueName("old"), UniqueName("new")
		p := mk(t, s, c, UniqueName("a"), "v1 #"+old, old)
		e1, err := s.Edit(c, p.ID, "v2 #"+tag, "cw2", []string{tag}, []string{"u-bo"}, at(10))
		if err != nil {
			t.Fatalf("Edit: %v", err)
		}
		if e1.Text != "v2 #"+tag || e1.ContentWarning != "cw2" || !e1.EditedAt.Equal(at(10)) || !e1.CreatedAt.Equal(p.CreatedAt) ||
			fmt.Sprint(e1.Hashtags, e1.Mentions) != fmt.Sprint([]string{tag}, []string{"u-bo"}) {
			t.Errorf("edited = %+v", e1)
		}
		if _, err := s.Edit(c, p.ID, "v3", "", nil, nil, at(20)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(c, p.ID)
		if got.Text != "v3" || len(got.Hashtags) != 0 || !got.EditedAt.Equal(at(20)) {
			t.Errorf("after second edit = %+v", got)
		}
		var texts []string
		cursor := ""
		for {
			es, next, err := s.Edits(c, p.ID, cursor, 1)
			if err != nil {
				t.Fatalf("Edits: %v", err)
			}
			for _, e := range es {
				texts = append(texts, e.Text+"@"+e.At.Sub(base).String())
			}
			if cursor = next; next == "" {
				break
			}
		}
		eq(t, "edit history", texts, []string{"v2 #" + tag + "@10ms", "v1 #" + old + "@0s"})
		for _, tc := range []struct {
			tag  string
			want []string
		}{{old, nil}, {tag, nil}} {
			ps, _, err := s.ByHashtag(c, tc.tag, "", 10)
			if err != nil || len(ps) != 0 {
				t.Errorf("ByHashtag(%s) after edits = %v, %v; want nothing", tc.tag, ids(ps), err)
			}
		}
		if _, err := s.Edit(c, newID(t), "x", "", nil, nil, at(1)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Edit(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("author and hashtag lists", func(t *testing.T) {
		s, c := migrated(t, open)
		author, tag := UniqueName("a"), UniqueName("t")
		var want []string
		for i := 0; i < 7; i++ {
			p := mk(t, s, c, author, fmt.Sprint("post ", i), tag)
			want = append([]string{p.ID}, want...)
		}
		mk(t, s, c, UniqueName("other"), "not theirs")
		for name, list := range map[string]func(cursor string) ([]post.Post, string, error){
			"ByAuthor":  func(cur string) ([]post.Post, string, error) { return s.ByAuthor(c, author, cur, 3) },
			"ByHashtag": func(cur string) ([]post.Post, string, error) { return s.ByHashtag(c, tag, cur, 3) },
		} {
			var got []string
			cursor := ""
			for i := 0; ; i++ {
				ps, next, err := list(cursor)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(ps) > 3 || i > 10 {
					t.Fatalf("%s: page of %d / no end", name, len(ps))
				}
				got = append(got, ids(ps)...)
				if cursor = next; next == "" {
					break
				}
			}
			eq(t, name, got, want)
		}
		if _, _, err := s.ByAuthor(c, author, "%%%", 3); !errors.Is(err, post.ErrBadCursor) {
			t.Errorf("bad cursor = %v, want ErrBadCursor", err)
		}
	})

	t.Run("likes and reposts count exactly", func(t *testing.T) {
		s, c := migrated(t, open)
		p := mk(t, s, c, UniqueName("a"), "hot")
		const users = 40
		var wg sync.WaitGroup
		var mu sync.Mutex
		changes := 0
		for i := 0; i < users; i++ {
			for try := 0; try < 2; try++ { // every like is retried once
				wg.Add(1)
				go func() {
					defer wg.Done()
					changed, err := s.Like(c, p.ID, fmt.Sprintf("u%02d", i), at(i))
					if err != nil {
						t.Errorf("Like: %v", err)
					}
					if changed {
						mu.Lock()
						changes++
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		if changes != users {
			t.Errorf("%d likes reported a change, want %d", changes, users)
		}
		if got := counts(t, s, c, p.ID).Likes; got != users {
			t.Fatalf("likes = %d, want %d", got, users)
		}
		for _, u := range []string{"u00", "u01", "u01"} {
			if _, err := s.Unlike(c, p.ID, u); err != nil {
				t.Fatal(err)
			}
		}
		if changed, err := s.Unlike(c, p.ID, "never"); err != nil || changed {
			t.Errorf("Unlike without a like = %v, %v", changed, err)
		}
		if got := counts(t, s, c, p.ID).Likes; got != users-2 {
			t.Errorf("likes after unlikes = %d, want %d", got, users-2)
		}
		var likers []string
		cursor := ""
		for {
			es, next, err := s.Likes(c, p.ID, cursor, 7)
			if err != nil {
				t.Fatalf("Likes: %v", err)
			}
			for _, e := range es {
				likers = append(likers, e.UserID)
			}
			if cursor = next; next == "" {
				break
			}
		}
		if len(likers) != users-2 || likers[0] != fmt.Sprintf("u%02d", users-1) || likers[len(likers)-1] != "u02" {
			t.Errorf("likers (newest first) = %v", likers)
		}

		for _, u := range []string{"r1", "r2", "r1"} {
			if _, err := s.Repost(c, p.ID, u, at(1)); err != nil {
				t.Fatal(err)
			}
		}
		if changed, err := s.UndoRepost(c, p.ID, "r2"); err != nil || !changed {
			t.Errorf("UndoRepost = %v, %v", changed, err)
		}
		if got := counts(t, s, c, p.ID); got.Reposts != 1 || got.Likes != users-2 {
			t.Errorf("counts = %+v, want 1 repost", got)
		}
		v, err := s.Viewer(c, "r1", []string{p.ID})
		if err != nil || !v[p.ID].Reposted || v[p.ID].Liked {
			t.Errorf("Viewer(r1) = %v, %v; want reposted only", v, err)
		}
		v, err = s.Viewer(c, "u05", []string{p.ID, newID(t)})
		if err != nil || !v[p.ID].Liked || v[p.ID].Reposted {
			t.Errorf("Viewer(u05) = %v, %v; want liked only", v, err)
		}
		if _, err := s.Like(c, newID(t), "u1", at(0)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Like(unknown post) = %v, want ErrNotFound", err)
		}
	})

	t.Run("comments", func(t *testing.T) {
		s, c := migrated(t, open)
		p := mk(t, s, c, UniqueName("a"), "discuss")
		top := post.Comment{ID: newID(t), PostID: p.ID, AuthorID: "u1", Text: "first", CreatedAt: at(1)}
		reply := post.Comment{ID: newID(t), PostID: p.ID, AuthorID: "u2", ParentID: top.ID, Text: "reply", CreatedAt: at(2)}
		second := post.Comment{ID: newID(t), PostID: p.ID, AuthorID: "u3", Text: "second", CreatedAt: at(3)}
		for _, cm := range []post.Comment{top, reply, second, top} { // top again: a retry
			if err := s.AddComment(c, cm); err != nil {
				t.Fatalf("AddComment: %v", err)
			}
		}
		if got := counts(t, s, c, p.ID).Comments; got != 3 {
			t.Errorf("comments = %d, want 3", got)
		}
		got, err := s.GetComment(c, reply.ID)
		if err != nil {
			t.Fatalf("GetComment: %v", err)
		}
		eq(t, "GetComment", got, reply)
		var order []string
		cursor := ""
		for {
			cs, next, err := s.Comments(c, p.ID, cursor, 2)
			if err != nil {
				t.Fatalf("Comments: %v", err)
			}
			for _, cm := range cs {
				order = append(order, cm.Text)
			}
			if cursor = next; next == "" {
				break
			}
		}
		eq(t, "comments oldest first", order, []string{"first", "reply", "second"})
		orphan := post.Comment{ID: newID(t), PostID: p.ID, AuthorID: "u1", ParentID: newID(t), Text: "?", CreatedAt: at(4)}
		if err := s.AddComment(c, orphan); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("reply to an unknown comment = %v, want ErrNotFound", err)
		}
		if err := s.AddComment(c, post.Comment{ID: newID(t), PostID: newID(t), AuthorID: "u1", Text: "?", CreatedAt: at(4)}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("comment on an unknown post = %v, want ErrNotFound", err)
		}
		deleted, err := s.DeleteComment(c, top.ID)
		if err != nil || !deleted {
			t.Fatalf("DeleteComment = %v, %v", deleted, err)
		}
		if deleted, err := s.DeleteComment(c, top.ID); err != nil || deleted {
			t.Errorf("second DeleteComment = %v, %v", deleted, err)
		}
		if _, err := s.GetComment(c, reply.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the reply outlived its parent: %v", err)
		}
		if got := counts(t, s, c, p.ID).Comments; got != 1 {
			t.Errorf("comments after deleting a thread = %d, want 1", got)
		}
	})

	t.Run("scans list everything once", func(t *testing.T) {
		s, c := migrated(t, open)
		author := UniqueName("a")
		p1, p2, gone := mk(t, s, c, author, "one", "go"), mk(t, s, c, author, "two"), mk(t, s, c, author, "three")
		for i, u := range []string{"u1", "u2", "u3"} {
			if _, err := s.Like(c, p1.ID, u, at(10+i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Unlike(c, p1.ID, "u2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Repost(c, p2.ID, "u1", at(20)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Like(c, gone.ID, "u1", at(21)); err != nil {
			t.Fatal(err)
		}
		top := post.Comment{ID: newID(t), PostID: p1.ID, AuthorID: "u3", Text: "hi", CreatedAt: at(30)}
		reply := post.Comment{ID: newID(t), PostID: p1.ID, AuthorID: "u1", ParentID: top.ID, Text: "yo", CreatedAt: at(31)}
		other := post.Comment{ID: newID(t), PostID: p2.ID, AuthorID: "u2", Text: "ok", CreatedAt: at(32)}
		dropped := post.Comment{ID: newID(t), PostID: p2.ID, AuthorID: "u2", Text: "oops", CreatedAt: at(33)}
		for _, cm := range []post.Comment{top, reply, other, dropped} {
			if err := s.AddComment(c, cm); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.DeleteComment(c, dropped.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Delete(c, gone.ID); err != nil {
			t.Fatal(err)
		}
		// scanAll pages through a scan, failing on a repeated key.
		scanAll := func(t *testing.T, what string, limit int, page func(cursor string) (keys []string, next string, err error)) map[string]bool {
			t.Helper()
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				keys, next, err := page(cursor)
				if err != nil {
					t.Fatalf("%s(limit %d) page %d: %v", what, limit, pages, err)
				}
				if len(keys) > limit || pages > 1000 {
					t.Fatalf("%s(limit %d): page %d of %d", what, limit, pages, len(keys))
				}
				for _, k := range keys {
					if seen[k] {
						t.Errorf("%s(limit %d) listed %s twice", what, limit, k)
					}
					seen[k] = true
				}
				if cursor = next; cursor == "" {
					return seen
				}
			}
		}
		set := func(keys ...string) map[string]bool {
			out := map[string]bool{}
			for _, k := range keys {
				out[k] = true
			}
			return out
		}
		for _, limit := range []int{1, 2, 1000} {
			gotPosts := scanAll(t, "ScanPosts", limit, func(cursor string) ([]string, string, error) {
				ps, next, err := s.ScanPosts(c, cursor, limit)
				var keys []string
				for _, p := range ps {
					want := map[string]post.Post{p1.ID: p1, p2.ID: p2}[p.ID]
					if !p.CreatedAt.Equal(want.CreatedAt) || p.AuthorID != author || fmt.Sprint(p.Hashtags) != fmt.Sprint(want.Hashtags) {
						t.Errorf("ScanPosts: %+v, want %+v", p, want)
					}
					keys = append(keys, p.ID)
				}
				return keys, next, err
			})
			eq(t, "ScanPosts", gotPosts, set(p1.ID, p2.ID))
			gotEng := scanAll(t, "ScanEngagement", limit, func(cursor string) ([]string, string, error) {
				es, next, err := s.ScanEngagement(c, cursor, limit)
				var keys []string
				for _, e := range es {
					keys = append(keys, fmt.Sprintf("%s/%s/%d/%d", e.PostID, e.UserID, e.Verb, e.At.Sub(base).Milliseconds()))
				}
				return keys, next, err
			})
			eq(t, "ScanEngagement", gotEng, set(p1.ID+"/u1/1/10", p1.ID+"/u3/1/12", p2.ID+"/u1/2/20"))
			gotComments := scanAll(t, "ScanComments", limit, func(cursor string) ([]string, string, error) {
				cs, next, err := s.ScanComments(c, cursor, limit)
				var keys []string
				for _, cm := range cs {
					keys = append(keys, fmt.Sprintf("%s/%s/%s/%s/%d", cm.ID, cm.PostID, cm.AuthorID, cm.ParentID, cm.CreatedAt.Sub(base).Milliseconds()))
				}
				return keys, next, err
			})
			eq(t, "ScanComments", gotComments, set(top.ID+"/"+p1.ID+"/u3//30", reply.ID+"/"+p1.ID+"/u1/"+top.ID+"/31", other.ID+"/"+p2.ID+"/u2//32"))
		}
		if _, _, err := s.ScanPosts(c, "not a cursor!", 10); !errors.Is(err, post.ErrBadCursor) {
			t.Errorf("ScanPosts(bad cursor) = %v, want ErrBadCursor", err)
		}
	})

	t.Run("delete leaves nothing behind", func(t *testing.T) {
		s, c := migrated(t, open)
		author, tag := UniqueName("a"), UniqueName("t")
		p := mk(t, s, c, author, "bye #"+tag, tag)
		keep := mk(t, s, c, author, "stays #"+tag, tag)
		if _, err := s.Like(c, p.ID, "u1", at(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Repost(c, p.ID, "u2", at(1)); err != nil {
			t.Fatal(err)
		}
		cm := post.Comment{ID: newID(t), PostID: p.ID, AuthorID: "u3", Text: "hi", CreatedAt: at(2)}
		if err := s.AddComment(c, cm); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Edit(c, p.ID, "bye edited #"+tag, "", []string{tag}, nil, at(3)); err != nil {
			t.Fatal(err)
		}
		gone, deleted, err := s.Delete(c, p.ID)
		if err != nil || !deleted || gone.ID != p.ID || gone.AuthorID != author {
			t.Fatalf("Delete = %+v, %v, %v", gone, deleted, err)
		}
		if _, deleted, err := s.Delete(c, p.ID); err != nil || deleted {
			t.Errorf("second Delete = %v, %v", deleted, err)
		}
		if _, err := s.Get(c, p.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(deleted) = %v", err)
		}
		for name, list := range map[string]func() ([]post.Post, string, error){
			"ByAuthor":  func() ([]post.Post, string, error) { return s.ByAuthor(c, author, "", 10) },
			"ByHashtag": func() ([]post.Post, string, error) { return s.ByHashtag(c, tag, "", 10) },
		} {
			ps, _, err := list()
			if err != nil || !slices.Equal(ids(ps), []string{keep.ID}) {
				t.Errorf("%s after delete = %v, %v; want only the other post", name, ids(ps), err)
			}
		}
		if _, err := s.GetComment(c, cm.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("comment of a deleted post = %v", err)
		}
		if m, err := s.Counts(c, []string{p.ID}); err != nil || m[p.ID] != (post.Counts{}) {
			t.Errorf("counts of a deleted post = %v, %v", m, err)
		}
		if v, err := s.Viewer(c, "u1", []string{p.ID}); err != nil || v[p.ID].Liked {
			t.Errorf("viewer state of a deleted post = %v, %v", v, err)
		}
		if es, _, err := s.Edits(c, p.ID, "", 10); err != nil || len(es) != 0 {
			t.Errorf("history of a deleted post = %v, %v", es, err)
		}
		if _, err := s.Like(c, p.ID, "u9", at(9)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Like(deleted) = %v, want ErrNotFound", err)
		}
		if n, err := s.PostCounts(c, []string{author}); err != nil || n[author] != 1 {
			t.Errorf("PostCounts after delete = %v, %v; want 1", n, err)
		}
	})
}

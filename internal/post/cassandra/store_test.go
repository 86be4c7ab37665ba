package cassandra_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/post/cassandra"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/storetest"
)

// TestAdapter covers what this adapter promises beyond the conformance
// suite: retries and races around its lightweight transactions. The cases
// share one keyspace.
func TestAdapter(t *testing.T) {
	db := storetest.Cassandra(t)
	s := cassandra.New(db)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id := func(t *testing.T) string {
		t.Helper()
		u, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		return u.String()
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	mk := func(t *testing.T, author string) post.Post {
		t.Helper()
		p := post.Post{ID: id(t), AuthorID: author, Text: "hi #x", Visibility: post.Public, Hashtags: []string{"x"}, CreatedAt: at}
		if _, created, err := s.Create(ctx, p, ""); err != nil || !created {
			t.Fatalf("Create = %v, %v", created, err)
		}
		return p
	}
	postCount := func(t *testing.T, author string) int64 {
		t.Helper()
		n, err := s.PostCounts(ctx, []string{author})
		if err != nil {
			t.Fatal(err)
		}
		return n[author]
	}

	t.Run("a retried Create does not resurrect a deleted post", func(t *testing.T) {
		author := storetest.UniqueName("a")
		p := post.Post{ID: id(t), AuthorID: author, Text: "gone soon", Visibility: post.Public, CreatedAt: at}
		if _, created, err := s.Create(ctx, p, "k"); err != nil || !created {
			t.Fatalf("Create = %v, %v", created, err)
		}
		if _, deleted, err := s.Delete(ctx, p.ID); err != nil || !deleted {
			t.Fatalf("Delete = %v, %v", deleted, err)
		}
		retry := p
		retry.ID = id(t)
		if _, _, err := s.Create(ctx, retry, "k"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Create after Delete = %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, p.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get = %v", err)
		}
		if _, err := s.Get(ctx, retry.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(retry) = %v", err)
		}
		if n := postCount(t, author); n != 0 {
			t.Errorf("post count = %d, want 0", n)
		}
	})

	t.Run("a retry completes a Create that claimed its key and died", func(t *testing.T) {
		author, claimed := storetest.UniqueName("a"), id(t)
		if err := db.Session.Query(`INSERT INTO post_idempotency (author_id, key, post_id) VALUES (?, ?, ?)`, author, "k", claimed).Exec(); err != nil {
			t.Fatal(err)
		}
		p := post.Post{ID: id(t), AuthorID: author, Text: "second try #y", Hashtags: []string{"y"}, Visibility: post.Public, CreatedAt: at}
		got, created, err := s.Create(ctx, p, "k")
		if err != nil || !created || got.ID != claimed || got.Text != p.Text {
			t.Fatalf("Create = %+v, %v, %v; want the claimed ID, created", got, created, err)
		}
		got, created, err = s.Create(ctx, p, "k")
		if err != nil || created || got.ID != claimed {
			t.Fatalf("Create again = %+v, %v, %v", got, created, err)
		}
		ps, _, err := s.ByAuthor(ctx, author, "", 10)
		if err != nil || len(ps) != 1 || ps[0].ID != claimed {
			t.Errorf("ByAuthor = %v, %v", ps, err)
		}
		if n := postCount(t, author); n != 1 {
			t.Errorf("post count = %d, want 1", n)
		}
	})

	t.Run("concurrent Creates with one key make one post", func(t *testing.T) {
		author := storetest.UniqueName("a")
		var wg sync.WaitGroup
		var created atomic.Int32
		ids := make([]string, 10)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := post.Post{ID: id(t), AuthorID: author, Text: "once", Visibility: post.Public, CreatedAt: at}
				got, c, err := s.Create(ctx, p, "same")
				if err != nil {
					t.Errorf("Create: %v", err)
				}
				if c {
					created.Add(1)
				}
				ids[i] = got.ID
			}()
		}
		wg.Wait()
		if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); created.Load() != 1 || len(distinct) != 1 || distinct[0] == "" {
			t.Errorf("created %d times, ids %v", created.Load(), distinct)
		}
		if n := postCount(t, author); n != 1 {
			t.Errorf("post count = %d, want 1", n)
		}
	})

	t.Run("concurrent Deletes count down once", func(t *testing.T) {
		author := storetest.UniqueName("a")
		p := mk(t, author)
		mk(t, author)
		var wg sync.WaitGroup
		var deleted atomic.Int32
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, d, err := s.Delete(ctx, p.ID)
				if err != nil {
					t.Errorf("Delete: %v", err)
				}
				if d {
					deleted.Add(1)
				}
			}()
		}
		wg.Wait()
		if deleted.Load() != 1 {
			t.Errorf("%d Deletes reported deleting", deleted.Load())
		}
		if n := postCount(t, author); n != 1 {
			t.Errorf("post count = %d, want 1", n)
		}
	})

	t.Run("concurrent edits keep every version once", func(t *testing.T) {
		p := mk(t, storetest.UniqueName("a"))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Edit(ctx, p.ID, fmt.Sprint("v", i), "", nil, nil, at.Add(time.Duration(i+1)*time.Second)); err != nil {
					t.Errorf("Edit: %v", err)
				}
			}()
		}
		wg.Wait()
		// A retried edit (same text and time) changes nothing.
		cur, err := s.Get(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Edit(ctx, p.ID, cur.Text, cur.ContentWarning, nil, nil, cur.EditedAt); err != nil {
			t.Fatal(err)
		}
		es, next, err := s.Edits(ctx, p.ID, "", 100)
		if err != nil || next != "" {
			t.Fatalf("Edits: %v, %q", err, next)
		}
		texts := map[string]bool{}
		for i, e := range es {
			texts[e.Text] = true
			if i > 0 && !e.At.Before(es[i-1].At) {
				t.Errorf("history not newest first: %v", es)
			}
		}
		if len(es) != 8 || len(texts) != 8 || !texts["hi #x"] || texts[cur.Text] {
			t.Errorf("history = %+v (current %q), want the 8 earlier versions once", es, cur.Text)
		}
		if ps, _, _ := s.ByHashtag(ctx, "x", "", 100); slices.ContainsFunc(ps, func(q post.Post) bool { return q.ID == p.ID }) {
			t.Errorf("the post is still listed under its old tag")
		}
	})

	t.Run("likes toggled concurrently stay consistent", func(t *testing.T) {
		p := mk(t, storetest.UniqueName("a"))
		var wg sync.WaitGroup
		for u := range 24 {
			for k := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					user := fmt.Sprintf("t%02d", u)
					var err error
					if k == 1 {
						_, err = s.Unlike(ctx, p.ID, user)
					} else {
						_, err = s.Like(ctx, p.ID, user, at.Add(time.Duration(u)*time.Millisecond))
					}
					if err != nil {
						t.Errorf("toggle: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		var listed []string
		cursor := ""
		for {
			es, next, err := s.Likes(ctx, p.ID, cursor, 5)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				listed = append(listed, e.UserID)
			}
			if cursor = next; next == "" {
				break
			}
		}
		cs, err := s.Counts(ctx, []string{p.ID})
		if err != nil {
			t.Fatal(err)
		}
		liked := 0
		for u := range 24 {
			v, err := s.Viewer(ctx, fmt.Sprintf("t%02d", u), []string{p.ID})
			if err != nil {
				t.Fatal(err)
			}
			if v[p.ID].Liked {
				liked++
			}
		}
		if cs[p.ID].Likes != int64(len(listed)) || liked != len(listed) || len(slices.Compact(slices.Sorted(slices.Values(listed)))) != len(listed) {
			t.Errorf("count %d, listed %d %v, viewers who liked %d", cs[p.ID].Likes, len(listed), listed, liked)
		}
	})

	t.Run("likes at the same instant page across shards", func(t *testing.T) {
		p := mk(t, storetest.UniqueName("a"))
		var want []string
		for u := range 30 {
			user := fmt.Sprintf("s%02d", u)
			want = append([]string{user}, want...)
			if _, err := s.Like(ctx, p.ID, user, at); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		cursor := ""
		for {
			es, next, err := s.Likes(ctx, p.ID, cursor, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				got = append(got, e.UserID)
			}
			if cursor = next; next == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("likers = %v, want %v", got, want)
		}
	})

	t.Run("replies", func(t *testing.T) {
		p := mk(t, storetest.UniqueName("a"))
		top := post.Comment{ID: id(t), PostID: p.ID, AuthorID: "u1", Text: "top", CreatedAt: at}
		r1 := post.Comment{ID: id(t), PostID: p.ID, AuthorID: "u2", ParentID: top.ID, Text: "r1", CreatedAt: at}
		r2 := post.Comment{ID: id(t), PostID: p.ID, AuthorID: "u3", ParentID: top.ID, Text: "r2", CreatedAt: at}
		for _, c := range []post.Comment{top, r1, r2} {
			if err := s.AddComment(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		nested := post.Comment{ID: id(t), PostID: p.ID, AuthorID: "u4", ParentID: r1.ID, Text: "?", CreatedAt: at}
		if err := s.AddComment(ctx, nested); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("reply to a reply = %v, want ErrNotFound", err)
		}
		count := func() int64 {
			cs, err := s.Counts(ctx, []string{p.ID})
			if err != nil {
				t.Fatal(err)
			}
			return cs[p.ID].Comments
		}
		if d, err := s.DeleteComment(ctx, r1.ID); err != nil || !d || count() != 2 {
			t.Fatalf("DeleteComment(reply) = %v, %v; count %d", d, err, count())
		}
		if d, err := s.DeleteComment(ctx, top.ID); err != nil || !d || count() != 0 {
			t.Fatalf("DeleteComment(top) = %v, %v; count %d", d, err, count())
		}
		cs, _, err := s.Comments(ctx, p.ID, "", 10)
		if err != nil || len(cs) != 0 {
			t.Errorf("Comments = %v, %v", cs, err)
		}
		if _, err := s.GetComment(ctx, r2.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetComment(r2) = %v", err)
		}
	})

	t.Run("concurrent comments count exactly", func(t *testing.T) {
		p := mk(t, storetest.UniqueName("a"))
		var wg sync.WaitGroup
		for i := range 20 {
			c := post.Comment{ID: id(t), PostID: p.ID, AuthorID: fmt.Sprint("c", i), Text: "hey", CreatedAt: at}
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.AddComment(ctx, c); err != nil {
						t.Errorf("AddComment: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		cs, err := s.Counts(ctx, []string{p.ID})
		if err != nil || cs[p.ID].Comments != 20 {
			t.Errorf("Counts = %v, %v; want 20 comments", cs, err)
		}
	})
}

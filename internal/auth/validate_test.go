package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateSignUpFields(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		field string // "" means valid
	}{
		{"email ok", ValidateEmail("ana@example.com"), ""},
		{"email empty", ValidateEmail(""), "email"},
		{"email no domain dot", ValidateEmail("ana@localhost"), "email"},
		{"email display name", ValidateEmail("Ana <ana@example.com>"), "email"},
		{"email two ats", ValidateEmail("a@b@example.com"), "email"},
		{"email too long", ValidateEmail(strings.Repeat("a", 250) + "@example.com"), "email"},
		{"handle ok", ValidateHandle("Ana_1"), ""},
		{"handle min", ValidateHandle("abc"), ""},
		{"handle max", ValidateHandle(strings.Repeat("a", 30)), ""},
		{"handle short", ValidateHandle("ab"), "handle"},
		{"handle long", ValidateHandle(strings.Repeat("a", 31)), "handle"},
		{"handle dash", ValidateHandle("ana-1"), "handle"},
		{"handle unicode", ValidateHandle("anä_1"), "handle"},
		{"handle reserved", ValidateHandle("Admin"), "handle"},
		{"password ok", ValidatePassword("correct horse battery", "ana", "ana@example.com"), ""},
		{"password unicode length", ValidatePassword("ääääääääää", "ana", "ana@example.com"), ""},
		{"password short", ValidatePassword("short1!", "ana", "ana@example.com"), "password"},
		{"password common", ValidatePassword("Password123", "ana", "ana@example.com"), "password"},
		{"password is handle", ValidatePassword("ana_handle_x", "Ana_Handle_X", "x@example.com"), "password"},
		{"password is email local", ValidatePassword("anastasia99", "ana", "anastasia99@example.com"), "password"},
		{"password huge", ValidatePassword(strings.Repeat("x", 257), "ana", "ana@example.com"), "password"},
		{"display name ok", ValidateDisplayName("Ana ✓"), ""},
		{"display name long", ValidateDisplayName(strings.Repeat("é", 51)), "display_name"},
		{"display name control", ValidateDisplayName("Ana\n"), "display_name"},
	}
	for _, tc := range cases {
		var fe *FieldError
		switch {
		case tc.field == "" && tc.err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, tc.err)
		case tc.field != "" && !errors.As(tc.err, &fe):
			t.Errorf("%s: error %v, want a FieldError on %s", tc.name, tc.err, tc.field)
		case tc.field != "" && fe.Field != tc.field:
			t.Errorf("%s: error names %q, want %q", tc.name, fe.Field, tc.field)
		}
	}
	if NormalizeEmail("  Ana@Example.COM ") != "ana@example.com" {
		t.Error("NormalizeEmail does not trim and lowercase")
	}
}

func TestPasswordHash(t *testing.T) {
	p := Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1} // cheap for the test
	h, err := HashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	h2, _ := HashPassword("correct horse battery", p)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, err := VerifyPassword("correct horse battery", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword("correct horse batterY", h); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", h[:len(h)-50]} {
		if ok, err := VerifyPassword("x", bad); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	a, _ := NewSecret()
	b, _ := NewSecret()
	if a == b || len(a) != 43 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if ha := HashSecret(a); ha == HashSecret(b) || len(ha) != 64 || ha != HashSecret(string([]byte(a))) {
		t.Fatal("HashSecret is not a stable 256-bit hex digest")
	}
}

// BenchmarkHashPassword measures the chosen argon2id cost (the dominant
// part of SignIn).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery", DefaultArgon2); err != nil {
			b.Fatal(err)
		}
	}
}

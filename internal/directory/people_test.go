package directory

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

func TestPasswordComplexity(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"Passw0rd", true},
		{"password1!", true}, // lower, digit, symbol
		{"PASSWORD1!", true}, // upper, digit, symbol
		{"Password", false},  // two kinds
		{"passw0rd", false},  // two kinds
		{"Pa1!", false},      // too short
		{"Pa1!aaaa", true},   // eight
		{strings.Repeat("Aa1!", 64), true},
		{strings.Repeat("Aa1!", 64) + "x", false}, // 257
		{"Pass\x00w0rd", false},
		{"Pässwörd1", true},
	} {
		err := CheckPasswordComplexity(tc.password)
		if (err == nil) != tc.ok {
			t.Errorf("CheckPasswordComplexity(%q) = %v, want ok %v", tc.password, err, tc.ok)
		}
		var in *InputError
		if err != nil && (!errors.As(err, &in) || in.Message != weakPasswordMessage) {
			t.Errorf("CheckPasswordComplexity(%q) = %v, want Graph's words", tc.password, err)
		}
	}
	for range 2000 {
		p := GeneratePassword()
		if CheckPasswordComplexity(p) != nil {
			t.Fatalf("generated password %q breaks the rule", p)
		}
		// `az login -u … -p <password>` reads a leading '-' as an option (a flaky e2e failure:
		// "argument --password/-p: expected one argument"), and '!' is history expansion in an
		// interactive shell.
		if p[0] == '-' || strings.Contains(p, "!") {
			t.Fatalf("generated password %q cannot be typed after -p as it is", p)
		}
	}
}

func TestPHCFormatAndVerify(t *testing.T) {
	h := newPasswordHasher()
	ctx := context.Background()
	phc, err := h.hash(ctx, "Corr3ct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an OWASP-parameter Argon2id PHC string", phc)
	}
	p, ok := parsePHC(phc)
	if !ok || len(p.salt) != 16 || len(p.key) != 32 {
		t.Fatalf("parsePHC(%q) = %+v, %v", phc, p, ok)
	}
	for pw, want := range map[string]bool{"Corr3ct horse": true, "corr3ct horse": false, "": false} {
		if got, err := h.verify(ctx, phc, pw); err != nil || got != want {
			t.Errorf("verify(%q) = %v, %v; want %v", pw, got, err, want)
		}
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "$bcrypt$x", phc + "$"} {
		if got, _ := h.verify(ctx, bad, "Corr3ct horse"); got {
			t.Errorf("verify against malformed %q matched", bad)
		}
	}
	// A caller whose context ends while every slot is busy gets its context's error.
	if err := h.slots.Acquire(ctx, PasswordSlots()); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := h.verify(cctx, phc, "Corr3ct horse"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("verify with every slot taken = %v, want the context's deadline", err)
	}
	h.slots.Release(PasswordSlots())
}

// TestPasswordChecksQueueIsBounded: with every slot busy, PasswordQueue() checks wait and the
// next is refused at once with ErrPasswordChecksBusy, the same for a known user's check and an
// unknown user's dummy check; a check waits again once the queue drains.
func TestPasswordChecksQueueIsBounded(t *testing.T) {
	if n := runtime.NumCPU(); n >= 2 && PasswordSlots() >= int64(n) {
		t.Fatalf("%d slots on %d CPUs: a spray could take every core", PasswordSlots(), n)
	}
	h := newPasswordHasher()
	ctx := context.Background()
	phc, err := h.hash(ctx, "Corr3ct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.slots.Acquire(ctx, PasswordSlots()); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range PasswordQueue() {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = h.verify(wctx, phc, "Corr3ct horse") }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.waiting.Load() < PasswordQueue() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := h.verify(ctx, phc, "Corr3ct horse"); !errors.Is(err, ErrPasswordChecksBusy) {
		t.Fatalf("known user's check with the queue full = %v, want ErrPasswordChecksBusy", err)
	}
	if _, err := h.verify(ctx, h.dummy, "Corr3ct horse"); !errors.Is(err, ErrPasswordChecksBusy) {
		t.Fatalf("dummy check with the queue full = %v, want ErrPasswordChecksBusy", err)
	}
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(ErrPasswordChecksBusy, &ra) || ra.RetryAfter() <= 0 {
		t.Fatal("ErrPasswordChecksBusy says no Retry-After")
	}
	cancel()
	wg.Wait()
	h.slots.Release(PasswordSlots())
	if ok, err := h.verify(ctx, phc, "Corr3ct horse"); err != nil || !ok {
		t.Fatalf("check after the queue drained = %v, %v", ok, err)
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parsePHC(s)
		if ok && (p.memory > 256*1024 || p.time > 10 || p.threads > 16 || len(p.key) > 64) {
			t.Fatalf("parsePHC(%q) accepted out-of-bounds parameters %+v", s, p)
		}
	})
}

func TestUsers(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	domain := in.Tenant.DefaultDomain
	spec := UserSpec{UserPrincipalName: "Ada@" + domain, DisplayName: "<script>alert(1)</script>", MailNickname: "ada",
		AccountEnabled: true, Password: "Analytical3ngine"}
	u, err := d.CreateUser(ctx, in.Tenant.ID, spec)
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash == "" || strings.Contains(u.PasswordHash, spec.Password) {
		t.Fatalf("password hash %q", u.PasswordHash)
	}
	got, err := d.UserByPrincipalName(ctx, in.Tenant.ID, "ADA@"+strings.ToUpper(domain))
	if err != nil || got.ObjectID != u.ObjectID || got.DisplayName != spec.DisplayName {
		t.Fatalf("UserByPrincipalName = %+v, %v", got, err)
	}
	if _, err := d.User(ctx, strings.ToUpper(u.ObjectID)); err != nil {
		t.Fatalf("User by upper-case id: %v", err)
	}
	if _, err := d.User(ctx, "not-a-guid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User(not-a-guid) = %v", err)
	}
	if ok, err := d.VerifyPassword(ctx, u, "Analytical3ngine"); err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := d.VerifyPassword(ctx, u, "analytical3ngine"); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	if ok, err := d.VerifyPassword(ctx, u, strings.Repeat("A1a!", 1<<18)); err != nil || ok {
		t.Fatalf("VerifyPassword(1 MB) = %v, %v", ok, err)
	}
	if ok, err := d.VerifyPassword(ctx, store.User{}, "x"); err != nil || ok {
		t.Fatalf("VerifyPassword(no hash) = %v, %v", ok, err)
	}
	if err := d.DummyPasswordCheck(ctx, "whatever"); err != nil {
		t.Fatal(err)
	}

	bad := func(what string, s UserSpec, want string) {
		t.Helper()
		_, err := d.CreateUser(ctx, in.Tenant.ID, s)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(ie.Message, want) {
			t.Errorf("%s: CreateUser = %v, want an input error saying %q", what, err, want)
		}
	}
	s := spec
	s.UserPrincipalName = "ada@" + strings.ToUpper(domain)
	bad("duplicate UPN", s, msgUPNTaken)
	s.UserPrincipalName = "ada@contoso.com"
	bad("UPN outside the tenant's domains", s, msgUPNDomain)
	for _, upn := range []string{"a b@" + domain, "ada", ".ada@" + domain, "a..b@" + domain, "a@b@" + domain, "<x>@" + domain, strings.Repeat("a", 65) + "@" + domain} {
		s.UserPrincipalName = upn
		bad("UPN "+upn, s, msgUPNInvalid)
	}
	s = spec
	s.UserPrincipalName = "w@" + domain
	s.Password = "weakweak"
	bad("weak password", s, weakPasswordMessage)
	s.Password = strings.Repeat("Aa1!", 1<<18)
	bad("1 MB password", s, weakPasswordMessage)
	s = spec
	s.UserPrincipalName, s.MailNickname = "n@"+domain, "a b"
	bad("mail nickname with a space", s, "mailNickname")
	s.MailNickname, s.DisplayName = "n", " "
	bad("blank display name", s, "displayName")

	// A reset and a disable move TokensValidAfter.
	before := u.TokensValidAfter
	time.Sleep(2 * time.Millisecond)
	u2, err := d.ResetPassword(ctx, u.ObjectID, "N3w-password", true)
	if err != nil || !u2.TokensValidAfter.After(before) || !u2.ForceChangePasswordNextSignIn {
		t.Fatalf("ResetPassword = %+v, %v", u2, err)
	}
	if ok, _ := d.VerifyPassword(ctx, u2, "Analytical3ngine"); ok {
		t.Fatal("old password still works after reset")
	}
	if _, err := d.ResetPassword(ctx, u.ObjectID, "short", false); err == nil {
		t.Fatal("reset to a weak password accepted")
	}
	time.Sleep(2 * time.Millisecond)
	u3, err := d.SetAccountEnabled(ctx, u.ObjectID, false)
	if err != nil || u3.AccountEnabled || !u3.TokensValidAfter.After(u2.TokensValidAfter) {
		t.Fatalf("disable = %+v, %v", u3, err)
	}
	if err := d.DeleteUser(ctx, u.ObjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.User(ctx, u.ObjectID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("user after delete: %v", err)
	}
}

func TestGroupsNestAndCycle(t *testing.T) {
	d, in := newDirectory(t)
	ctx := context.Background()
	tid := in.Tenant.ID
	u, err := d.CreateUser(ctx, tid, UserSpec{UserPrincipalName: "m@" + in.Tenant.DefaultDomain, DisplayName: "M", MailNickname: "m", AccountEnabled: true, Password: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	mi, err := d.CreateManagedIdentity(ctx, tid, "mi", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := d.CreateGroup(ctx, tid, GroupSpec{DisplayName: "A", MailNickname: "a"})
	b, _ := d.CreateGroup(ctx, tid, GroupSpec{DisplayName: "B", MailNickname: "b"})
	c, _ := d.CreateGroup(ctx, tid, GroupSpec{DisplayName: "C", MailNickname: "c"})
	for _, m := range [][2]string{{b.ObjectID, mi.ObjectID}, {b.ObjectID, u.ObjectID}, {a.ObjectID, b.ObjectID}, {c.ObjectID, a.ObjectID}, {b.ObjectID, c.ObjectID}} {
		if err := d.AddMember(ctx, m[0], m[1]); err != nil {
			t.Fatalf("AddMember %v: %v", m, err)
		}
	}
	var ie *InputError
	if err := d.AddMember(ctx, b.ObjectID, mi.ObjectID); !errors.As(err, &ie) || ie.Message != msgAlreadyMember {
		t.Fatalf("adding twice = %v", err)
	}
	if err := d.AddMember(ctx, a.ObjectID, a.ObjectID); !errors.As(err, &ie) {
		t.Fatalf("adding a group to itself = %v", err)
	}
	if err := d.AddMember(ctx, a.ObjectID, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("adding a missing object = %v", err)
	}
	if err := d.RemoveMember(ctx, a.ObjectID, mi.ObjectID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removing a non-member = %v", err)
	}
	ids, err := d.TransitiveGroupIDs(ctx, mi.ObjectID)
	slices.Sort(ids)
	want := []string{a.ObjectID, b.ObjectID, c.ObjectID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("TransitiveGroupIDs(mi) = %v, %v; want %v (a cycle b → a → c → b)", ids, err, want)
	}
	ms, err := d.TransitiveMembers(ctx, a.ObjectID)
	if err != nil || len(ms) != 4 { // b, mi, u, c (a itself is not listed)
		t.Fatalf("TransitiveMembers(a) = %+v, %v", ms, err)
	}
	groups, err := d.MemberOf(ctx, mi.ObjectID)
	if err != nil || len(groups) != 1 || groups[0].ObjectID != b.ObjectID {
		t.Fatalf("MemberOf(mi) = %+v, %v", groups, err)
	}
	if err := d.RemoveMember(ctx, b.ObjectID, mi.ObjectID); err != nil {
		t.Fatal(err)
	}
	if ids, _ := d.TransitiveGroupIDs(ctx, mi.ObjectID); len(ids) != 0 {
		t.Fatalf("groups after removal = %v", ids)
	}
}

func FuzzCheckUPN(f *testing.F) {
	t := store.Tenant{ID: "t", DefaultDomain: "mint.localhost"}
	for _, s := range []string{"ada@mint.localhost", "a.b@MINT.localhost", "@mint.localhost", "a@b@mint.localhost", "a..b@mint.localhost", " x@mint.localhost "} {
		f.Add(s)
	}
	f.Fuzz(func(tt *testing.T, upn string) {
		got, err := checkUPN(upn, t)
		if err != nil {
			return
		}
		alias, domain, ok := strings.Cut(got, "@")
		if !ok || alias == "" || len(alias) > maxUPNAliasLen || len(got) > maxUPNLen || !strings.EqualFold(domain, t.DefaultDomain) ||
			strings.ContainsAny(alias, "@ <>()\"\\") || strings.HasPrefix(alias, ".") || strings.Contains(alias, "..") {
			tt.Fatalf("checkUPN accepted %q as %q", upn, got)
		}
	})
}

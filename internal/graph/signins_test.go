package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

func TestSignInFilterClauses(t *testing.T) {
	var q signInQuery
	err := parseSignInFilter("status/errorCode ne 0 and resourceId eq 'https://vault.azure.net' and signInEventTypes/any(t: t eq 'managedIdentity')"+
		" and userPrincipalName eq 'rita@x' and createdDateTime le 2026-01-02T00:00:00Z", &q)
	if err != nil {
		t.Fatal(err)
	}
	if q.result != "failure" || q.resource != "https://vault.azure.net" || q.eventType != "managedIdentity" || q.upn != "rita@x" || q.store.Until.IsZero() {
		t.Fatalf("query = %+v", q)
	}
	ok := store.SignIn{Result: "failure", ErrorCode: "AADSTS7000215", Resource: "https://vault.azure.net/", Grant: "managed_identity"}
	if !q.keep(ok) {
		t.Error("a matching entry was dropped")
	}
	for _, e := range []store.SignIn{
		{Result: "success", Resource: "https://vault.azure.net", Grant: "managed_identity"},
		{Result: "failure", Resource: "https://management.azure.com/", Grant: "managed_identity"},
		{Result: "failure", Resource: "https://vault.azure.net", Grant: "client_secret"},
	} {
		if q.keep(e) {
			t.Errorf("%+v kept", e)
		}
	}
	var code signInQuery
	if err := parseSignInFilter("status/errorCode eq 7000215", &code); err != nil || code.errorCode == nil || *code.errorCode != 7000215 {
		t.Fatalf("errorCode: %v %+v", err, code)
	}
	if !code.keep(ok) || code.keep(store.SignIn{Result: "failure", ErrorCode: "AADSTS50126"}) {
		t.Error("status/errorCode eq does not select by code")
	}
}

// memSignIns is the store's order and bounds (time descending, then id; Until exclusive).
type memSignIns []store.SignIn

func (m memSignIns) RecordSignIns(context.Context, []store.SignIn) error       { return nil }
func (m memSignIns) PurgeSignIns(context.Context, time.Time, int) (int, error) { return 0, nil }
func (m memSignIns) ListSignIns(_ context.Context, f store.SignInFilter) ([]store.SignIn, error) {
	var out []store.SignIn
	for _, e := range m {
		if (!f.Since.IsZero() && e.Time.Before(f.Since)) || (!f.Until.IsZero() && !e.Time.Before(f.Until)) {
			continue
		}
		out = append(out, e)
		if len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Paging visits every entry once, in order, even when many share one instant (more than a
// batch), and a filter applied after the store still fills pages.
func TestScanSignInsPages(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var log memSignIns
	for i := 0; i < 1500; i++ {
		at := base.Add(-time.Duration(i/700) * time.Minute) // 700 entries per instant
		r := "success"
		if i%3 == 0 {
			r = "failure"
		}
		log = append(log, store.SignIn{ID: fmt.Sprintf("e%05d", i), Time: at, Result: r})
	}
	for _, tc := range []struct {
		q    signInQuery
		want int
	}{{signInQuery{}, 1500}, {signInQuery{result: "failure"}, 500}} {
		var cur *signInCursor
		seen := map[string]bool{}
		prev := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			got, next, err := scanSignIns(context.Background(), log, &tc.q, cur, 70)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range got {
				if seen[e.ID] || e.ID < prev {
					t.Fatalf("%s out of order or twice (after %s)", e.ID, prev)
				}
				seen[e.ID], prev = true, e.ID
			}
			if next == nil {
				break
			}
			tok, err := parseSignInCursor(next.token())
			if err != nil {
				t.Fatal(err)
			}
			cur = &tok
		}
		if len(seen) != tc.want {
			t.Fatalf("%+v: saw %d entries, want %d", tc.q, len(seen), tc.want)
		}
	}
}

// FuzzSignInFilter: any $filter is parsed into a query or refused with a message; never a panic.
func FuzzSignInFilter(f *testing.F) {
	for _, s := range []string{"status/errorCode eq 0", "signInEventTypes/any(t: t eq 'managedIdentity')", "createdDateTime ge 2026-01-01T00:00:00Z",
		"userPrincipalName eq 'a''b'", "resourceId eq", "x/any(", "status/errorCode ne 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		var q signInQuery
		if err := parseSignInFilter(filter, &q); err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// FuzzSignInCursor: a $skiptoken is a cursor this API made or a clear refusal.
func FuzzSignInCursor(f *testing.F) {
	f.Add(signInCursor{at: time.Unix(1700000000, 5), id: "abc"}.token())
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := parseSignInCursor(tok)
		if err != nil {
			return
		}
		back, err := parseSignInCursor(c.token())
		if err != nil || !back.at.Equal(c.at) || back.id != c.id {
			t.Fatalf("%q: cursor does not survive a round trip", tok)
		}
		if c.token() != tok { // one spelling per cursor
			t.Fatalf("%q was accepted as %q", tok, c.token())
		}
	})
}

// Paging over the real SQLite store: entries sharing an instant, sub-second times and a
// post-store filter still come out once each, in order.
func TestScanSignInsPagesOverSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	var batch []store.SignIn
	for i := 0; i < 1300; i++ {
		at := base.Add(-time.Duration(i/600)*time.Second - time.Duration(i%7)*time.Millisecond)
		r := "success"
		if i%4 == 0 {
			r = "failure"
		}
		batch = append(batch, store.SignIn{ID: fmt.Sprintf("e%05d", i), Time: at, TenantID: "t", PrincipalID: "p", AppID: "a", Result: r, Grant: "client_secret"})
	}
	if err := st.RecordSignIns(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, q := range []signInQuery{{store: store.SignInFilter{TenantID: "t"}}, {store: store.SignInFilter{TenantID: "t"}, result: "failure"}} {
		want, _ := st.ListSignIns(ctx, store.SignInFilter{TenantID: "t", Limit: 5000})
		var wantIDs []string
		for _, e := range want {
			if q.keep(e) {
				wantIDs = append(wantIDs, e.ID)
			}
		}
		var got []string
		var cur *signInCursor
		for pages := 0; ; pages++ {
			if pages > 200 {
				t.Fatal("paging does not end")
			}
			page, next, err := scanSignIns(ctx, st, &q, cur, 97)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				got = append(got, e.ID)
			}
			if next == nil {
				break
			}
			c, err := parseSignInCursor(next.token())
			if err != nil {
				t.Fatal(err)
			}
			cur = &c
		}
		if strings.Join(got, ",") != strings.Join(wantIDs, ",") {
			t.Fatalf("result %q: paged %d entries, the log has %d (or a different order)", q.result, len(got), len(wantIDs))
		}
	}
}

// A sign-in log $skiptoken has one spelling, the one this API wrote; any other is Graph's 400
// in its error envelope, not a second name for the same page.
func TestSignInSkipTokenHasOneSpelling(t *testing.T) {
	e := newTestEnv(t)
	call := e.caller(map[string]any{"oid": e.in.Admin.ObjectID, "sub": e.in.Admin.ObjectID, "appid": e.in.Admin.AppID,
		"roles": []string{directory.RoleAuditLogReadAll}})
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	good := signInCursor{at: at, id: "e1"}.token()
	if w := call("GET", "/v1.0/auditLogs/signIns?$skiptoken="+good, ""); w.Code != 200 {
		t.Fatalf("the API's own cursor: %d %s", w.Code, w.Body)
	}
	enc := base64.RawURLEncoding.EncodeToString
	for _, bad := range []string{
		good[:6] + "\r\n" + good[6:],
		good + "=",
		enc([]byte("2026-12-07T02:00:00+01:00|e1")),      // the same instant in another zone
		enc([]byte("2026-12-07T01:00:00.000000000Z|e1")), // and at another precision
		"!!",
	} {
		w := call("GET", "/v1.0/auditLogs/signIns?$skiptoken="+url.QueryEscape(bad), "")
		var env struct {
			Error struct{ Code, Message string }
		}
		if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Error.Code != "Request_BadRequest" {
			t.Errorf("$skiptoken %q: %d %s", bad, w.Code, w.Body)
		}
	}
}

// createdDateTime's bounds are inclusive, over the real SQLite store, at its microseconds; two
// bounds of one kind combine; a clause given twice or compared with ” is refused rather than
// read as the last one or as no clause.
func TestSignInFilterBoundsAndRepeats(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	var batch []store.SignIn
	for i, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
		batch = append(batch, store.SignIn{ID: fmt.Sprintf("e%d", i), Time: at.Add(d), TenantID: "t", PrincipalID: "p", AppID: "a", Result: "success", Grant: "client_secret"})
	}
	if err := st.RecordSignIns(ctx, batch); err != nil {
		t.Fatal(err)
	}
	ts := at.Format(time.RFC3339Nano)
	for filter, want := range map[string]string{
		"createdDateTime le " + ts:                                   "e1,e0",
		"createdDateTime ge " + ts:                                   "e2,e1",
		"createdDateTime ge " + ts + " and createdDateTime le " + ts: "e1",
		"createdDateTime le 0001-01-01T00:00:00Z":                    "",
		// two bounds of one kind: the tighter holds, whatever the order
		"createdDateTime le " + ts + " and createdDateTime le 2030-01-01T00:00:00Z": "e1,e0",
		"createdDateTime ge " + ts + " and createdDateTime ge 2020-01-01T00:00:00Z": "e2,e1",
	} {
		q := signInQuery{store: store.SignInFilter{TenantID: "t"}}
		if err := parseSignInFilter(filter, &q); err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		got, _, err := scanSignIns(ctx, st, &q, nil, 10)
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if err != nil || strings.Join(ids, ",") != want {
			t.Errorf("%s: %v %v, want %s", filter, ids, err, want)
		}
	}
	for _, bad := range []string{"appId eq 'a' and appId eq 'b'", "userPrincipalName eq ''", "appId eq ''", "resourceId eq ''",
		"status/errorCode eq 0 and status/errorCode ne 0", "servicePrincipalId eq 'a' and userId eq 'b'", "createdDateTime ge 2026-03-02T00:00:00Z and createdDateTime le 2026-03-01T00:00:00Z"} {
		var q signInQuery
		if err := parseSignInFilter(bad, &q); err == nil {
			t.Errorf("%s: accepted as %+v", bad, q)
		}
	}
}

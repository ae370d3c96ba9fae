package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Graph's query options and keys with the Azure CLI, signed in as mint dev's developer (the
// directory's administrator): az follows @odata.nextLink through pages of 100 groups; $select and
// $top shape a page (az rest); a group created with members@odata.bind has them; az addresses an
// id that starts with '$' as users('$x'); the developer's tokens carry wids with Entra's Global
// Administrator template id; Graph's advanced queries (ConsistencyLevel: eventual) with az rest,
// and their refusal without the header through az's own commands.
func TestGraphQueryOptionsWithAzureCLI(t *testing.T) {
	az := needAz(t)
	for _, sk := range stores(t) {
		t.Run(sk.name, func(t *testing.T) {
			m := startMint(t, options{store: sk.url(t)})
			dev := readDeveloper(t, m)
			env := append(m.printedEnv(t, "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"), azConfigDir(t))
			mustAz(t, env, az, nil, "login", "-u", dev.UserPrincipalName, "-p", dev.Password, "-o", "none")

			// 105 groups, made through Graph by the admin application (setup, not under test).
			tok, err := m.adminCredential(t).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
			if err != nil {
				t.Fatal(err)
			}
			client := httpClient()
			for i := range 105 {
				body := fmt.Sprintf(`{"displayName":"paged-%03d","mailNickname":"paged-%03d","mailEnabled":false,"securityEnabled":true}`, i, i)
				req, _ := http.NewRequest(http.MethodPost, m.URL+"/v1.0/groups", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok.Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("create group %d: %d", i, resp.StatusCode)
				}
			}
			var groups []struct{ DisplayName string }
			mustAz(t, env, az, &groups, "ad", "group", "list", "-o", "json")
			paged := 0
			for _, g := range groups {
				if strings.HasPrefix(g.DisplayName, "paged-") {
					paged++
				}
			}
			if paged != 105 {
				t.Errorf("az ad group list (following @odata.nextLink) found %d of the 105 groups", paged)
			}

			// Service principals: 101 applications (each its service principal), listed by az in
			// pages of 100 that the store reads after the keyset position of the nextLink; az's
			// lookups by appId (servicePrincipalNames/any, appId eq) and display-name prefix.
			var apps []struct{ AppID string }
			for i := range 101 {
				req, _ := http.NewRequest(http.MethodPost, m.URL+"/v1.0/applications", strings.NewReader(fmt.Sprintf(`{"displayName":"sp-paged-%03d"}`, i)))
				req.Header.Set("Authorization", "Bearer "+tok.Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var app struct{ AppID string }
				err = json.NewDecoder(resp.Body).Decode(&app)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || err != nil {
					t.Fatalf("create application %d: %d %v", i, resp.StatusCode, err)
				}
				apps = append(apps, app)
			}
			var sps []struct{ AppID, DisplayName string }
			mustAz(t, env, az, &sps, "ad", "sp", "list", "--all", "-o", "json")
			paged = 0
			for _, sp := range sps {
				if strings.HasPrefix(sp.DisplayName, "sp-paged-") {
					paged++
				}
			}
			if paged != 101 {
				t.Errorf("az ad sp list --all (following @odata.nextLink) found %d of the 101 service principals", paged)
			}
			var shown struct{ AppID, DisplayName string }
			mustAz(t, env, az, &shown, "ad", "sp", "show", "--id", apps[57].AppID, "-o", "json")
			if shown.AppID != apps[57].AppID || shown.DisplayName != "sp-paged-057" {
				t.Errorf("az ad sp show --id <appId>: %+v", shown)
			}
			var prefixed []struct{ DisplayName string }
			mustAz(t, env, az, &prefixed, "ad", "app", "list", "--display-name", "SP-PAGED-10", "-o", "json")
			if len(prefixed) != 1 || prefixed[0].DisplayName != "sp-paged-100" {
				t.Errorf("az ad app list --display-name SP-PAGED-10: %+v", prefixed)
			}

			// $select and $top: one user per page, only the selected properties, a nextLink.
			var page struct {
				Value    []map[string]any
				NextLink string `json:"@odata.nextLink"`
			}
			mustAz(t, env, az, &page, "rest", "--method", "get", "--url", "https://graph.microsoft.com/v1.0/groups?$select=id,displayName&$top=1", "-o", "json")
			if len(page.Value) != 1 || len(page.Value[0]) != 3 || page.Value[0]["displayName"] == nil || !strings.Contains(page.NextLink, "$skiptoken=") {
				t.Errorf("$select=id,displayName&$top=1: %+v", page)
			}
			// The reads and refusals below do not depend on each other and az holds the tokens they
			// use (Graph's since the commands above, ARM's since the sign-in): they run at once.
			eventual := []string{"--headers", "ConsistencyLevel=eventual"}
			domain := dev.UserPrincipalName[strings.IndexByte(dev.UserPrincipalName, '@'):]
			var tooMany bytes.Buffer
			tooMany.WriteString(`{"displayName":"many","mailNickname":"many","mailEnabled":false,"securityEnabled":true,"members@odata.bind":[`)
			for i := range 21 {
				if i > 0 {
					tooMany.WriteString(",")
				}
				tooMany.WriteString(`"https://graph.microsoft.com/v1.0/directoryObjects/` + dev.ObjectID + `"`)
			}
			tooMany.WriteString("]}")
			runs := azConcurrently(t, env, az,
				[]string{"rest", "--method", "get", "--url", "https://graph.microsoft.com/v1.0/users?$top=1000"},
				append([]string{"rest", "--method", "get", "--url",
					`https://graph.microsoft.com/v1.0/groups?$search="displayName:paged"&$orderby=displayName desc&$count=true&$top=100`, "-o", "json"}, eventual...),
				[]string{"ad", "user", "list", "--filter", "endswith(userPrincipalName,'" + domain + "')"},
				append([]string{"rest", "--method", "get", "--url",
					"https://graph.microsoft.com/v1.0/users?$filter=endswith(userPrincipalName,'" + domain + "') and accountEnabled ne false&$count=true", "-o", "json"}, eventual...),
				[]string{"rest", "--method", "post", "--url", "https://graph.microsoft.com/v1.0/groups", "--body", tooMany.String()},
				[]string{"ad", "user", "show", "--id", "$nobody"},
				[]string{"rest", "--method", "get", "--url", "https://graph.microsoft.com/v1.0/users('" + dev.ObjectID + "')?$select=userPrincipalName", "-o", "json"},
				[]string{"account", "get-access-token", "-o", "json"},
				// The portal member picker's shape, read from the store's word index: every word of
				// the text begins a word of the name ("05" begins "050", "10" does not begin "010"),
				// OR a mail nickname prefix; in creation order, a page of twelve.
				append([]string{"rest", "--method", "get", "--url",
					`https://graph.microsoft.com/v1.0/groups?$search="displayName:paged 05" OR "mailNickname:PAGED-09"&$top=12&$select=displayName`, "-o", "json"}, eventual...))

			if bad := runs[0]; bad.code == 0 || !strings.Contains(bad.stderr, "Must be between 1 and 999") {
				t.Errorf("$top=1000: exit %d\n%s", bad.code, bad.stderr)
			}

			// Advanced queries, with az's own generic client sending ConsistencyLevel: eventual:
			// $search by words, $orderby on a non-key property (its pages are unit-tested),
			// @odata.count; without the header (az's own commands never send it), Graph's refusal
			// in Graph's words, which az shows.
			var ordered struct {
				Value    []struct{ DisplayName string }
				Count    *int   `json:"@odata.count"`
				NextLink string `json:"@odata.nextLink"`
			}
			mustJSON(t, mustSucceed(t, runs[1]), &ordered)
			if ordered.Count == nil || *ordered.Count != 105 || len(ordered.Value) != 100 || ordered.Value[0].DisplayName != "paged-104" || ordered.Value[99].DisplayName != "paged-005" || ordered.NextLink == "" {
				t.Fatalf("$search, $orderby desc, $count=true: count %v, %d groups, first %+v, nextLink %q", ordered.Count, len(ordered.Value), ordered.Value[:min(1, len(ordered.Value))], ordered.NextLink)
			}
			if bad := runs[2]; bad.code == 0 || !strings.Contains(bad.stderr, "Operator 'endsWith' is not supported because the required parameters might be missing") {
				t.Errorf("az ad user list --filter endswith(...) (no ConsistencyLevel): exit %d\n%s", bad.code, bad.stderr)
			}
			var ends struct {
				Value []struct{ UserPrincipalName string }
				Count int `json:"@odata.count"`
			}
			mustJSON(t, mustSucceed(t, runs[3]), &ends)
			if ends.Count < 1 || len(ends.Value) != ends.Count || !slices.ContainsFunc(ends.Value, func(u struct{ UserPrincipalName string }) bool { return u.UserPrincipalName == dev.UserPrincipalName }) {
				t.Errorf("endswith and ne with the advanced query parameters: %+v", ends)
			}
			if bad := runs[4]; bad.code == 0 || !strings.Contains(bad.stderr, "at most 20") {
				t.Errorf("21 members@odata.bind: exit %d\n%s", bad.code, bad.stderr)
			}
			// az sends an id that starts with '$' as users('$x'): not found, not a bad request.
			if bad := runs[5]; bad.code == 0 || !strings.Contains(bad.stderr, "does not exist") {
				t.Errorf("az ad user show --id $nobody: exit %d\n%s", bad.code, bad.stderr)
			}
			var me struct{ UserPrincipalName string }
			mustJSON(t, mustSucceed(t, runs[6]), &me)
			if me.UserPrincipalName != dev.UserPrincipalName {
				t.Errorf("users('id'): %+v", me)
			}
			var searched struct {
				Value    []struct{ DisplayName string }
				NextLink string `json:"@odata.nextLink"`
			}
			mustJSON(t, mustSucceed(t, runs[8]), &searched)
			var names []string
			for _, g := range searched.Value {
				names = append(names, g.DisplayName)
			}
			if want := "paged-050,paged-051,paged-052,paged-053,paged-054,paged-055,paged-056,paged-057,paged-058,paged-059,paged-090,paged-091"; strings.Join(names, ",") != want || !strings.Contains(searched.NextLink, "$skiptoken=") {
				t.Errorf("$search words OR mailNickname, $top=12: %v, nextLink %q; want %s and a nextLink", names, searched.NextLink, want)
			}
			// wids: the developer is the directory's administrator.
			var at struct{ AccessToken string }
			mustJSON(t, mustSucceed(t, runs[7]), &at)
			if c := jwtClaims(t, at.AccessToken); fmt.Sprint(c["wids"]) != "[62e90394-69f5-4237-9190-012177145e10]" {
				t.Errorf("the developer's ARM token has wids %v", c["wids"])
			}

			// members@odata.bind on create.
			var created struct{ ID string }
			mustAz(t, env, az, &created, "rest", "--method", "post", "--url", "https://graph.microsoft.com/v1.0/groups", "--body",
				`{"displayName":"bound","mailNickname":"bound","mailEnabled":false,"securityEnabled":true,"members@odata.bind":["https://graph.microsoft.com/v1.0/directoryObjects/`+dev.ObjectID+`"]}`, "-o", "json")
			var members []struct{ ID string }
			mustAz(t, env, az, &members, "ad", "group", "member", "list", "--group", created.ID, "-o", "json")
			if len(members) != 1 || members[0].ID != dev.ObjectID {
				t.Errorf("members of a group created with members@odata.bind: %+v", members)
			}
			// The /$count segment of a group's members answers text/plain.
			var count int
			mustAz(t, env, az, &count, append([]string{"rest", "--method", "get", "--url", "https://graph.microsoft.com/v1.0/groups/" + created.ID + "/members/$count"}, eventual...)...)
			if count != 1 {
				t.Errorf("groups/{id}/members/$count = %d, want 1", count)
			}
		})
	}
}

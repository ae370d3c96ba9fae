package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// The portal figures (issue 10): the time to render the first page of the IAM blade of a scope
// with many role assignments, and of the Managed Identities list of a subscription with many
// identities, each beside the ARM list call the page is made from, in the same run. The world is
// seeded through the store's bulk path (as the scale curve's), mint dev is started on it, and a
// person signs in to the portal as a browser does (mint's sign-in page, the code flow, the
// session cookie); each page is then asked for over HTTPS, sequentially.

// portalGroups are the resource groups the portal figures seed.
const (
	portalIdentitiesGroup = "portal"     // the identities listed
	portalIAMGroup        = "portal-iam" // the scope holding the role assignments
)

func portalFigures(ctx context.Context, o Options, step func(string, ...any)) ([]Figure, error) {
	nIDs, nAssign := o.Scale.PortalIdentities, o.Scale.PortalAssignments
	dir, err := os.MkdirTemp("", "mint-bench-portal-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	inst, err := startDev(ctx, o.Binary, dir)
	if err != nil {
		return nil, err
	}
	env := inst.env
	inst.stop()

	began := time.Now()
	if err := seedPortal(ctx, filepath.Join(dir, "mint.db"), env["AZURE_TENANT_ID"], env["AZURE_SUBSCRIPTION_ID"], nIDs, nAssign); err != nil {
		return nil, fmt.Errorf("seed the portal's world: %w", err)
	}
	step("seeded %s identities and %s role assignments in %.1f s; starting mint dev on them ...", commas(nIDs), commas(nAssign), time.Since(began).Seconds())
	if inst, err = startDev(ctx, o.Binary, dir); err != nil {
		return nil, err
	}
	defer inst.stop()
	c, err := newMgmt(inst.env, 2)
	if err != nil {
		return nil, err
	}
	browser, err := portalSignIn(ctx, c, inst)
	if err != nil {
		return nil, fmt.Errorf("sign in to the portal: %w", err)
	}

	sub := env["AZURE_SUBSCRIPTION_ID"]
	iamScope := "/subscriptions/" + sub + "/resourceGroups/" + portalIAMGroup
	iamPage := c.endpoint + "/portal/resource" + iamScope + "?view=iam"
	idsPage := c.endpoint + "/portal/identities?subscription=" + url.QueryEscape(sub)
	armAssignments := iamScope + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=" + url.QueryEscape("atScope()")
	armIdentities := "/subscriptions/" + sub + "/providers/" + uaType + "?api-version=" + msiAPIVersion

	n := max(o.Scale.ListWalks*2, 5)
	page := func(u, mustShow string) ([]time.Duration, error) {
		var lat []time.Duration
		for i := range n + 1 {
			t := time.Now()
			status, body, err := browser.get(ctx, u)
			d := time.Since(t)
			if err != nil {
				return nil, err
			}
			if status != http.StatusOK || !strings.Contains(body, mustShow) {
				return nil, fmt.Errorf("GET %s: HTTP %d, page without %q", u, status, mustShow)
			}
			if i > 0 { // the first is the warm-up
				lat = append(lat, d)
			}
		}
		return lat, nil
	}
	armList := func(path string) ([]time.Duration, error) {
		var lat []time.Duration
		for i := range n + 1 {
			var out struct {
				Value []json.RawMessage `json:"value"`
			}
			t := time.Now()
			if err := c.arm(ctx, http.MethodGet, path, nil, &out); err != nil {
				return nil, err
			}
			d := time.Since(t)
			if len(out.Value) == 0 {
				return nil, fmt.Errorf("GET %s: an empty first page", path)
			}
			if i > 0 {
				lat = append(lat, d)
			}
		}
		return lat, nil
	}
	// Page and ARM call alternate per pair of measurements, so that a change in the machine's load
	// touches both alike.
	var iam, armIAM, ids, armIDs []time.Duration
	for range 2 {
		l, err := page(iamPage, "Reader (")
		if err != nil {
			return nil, err
		}
		iam = append(iam, l...)
		if l, err = armList(armAssignments); err != nil {
			return nil, err
		}
		armIAM = append(armIAM, l...)
		if l, err = page(idsPage, "id-0000000"); err != nil {
			return nil, err
		}
		ids = append(ids, l...)
		if l, err = armList(armIdentities); err != nil {
			return nil, err
		}
		armIDs = append(armIDs, l...)
	}
	a, i := commas(nAssign), commas(nIDs)
	goal, target := "< 100 ms p99", &Target{Max: 100, OnP99: true}
	return []Figure{
		latencyFigure("portalIAMFirstPage", "portal IAM blade, first page (scope with "+a+" role assignments)", iam, goal, target,
			fmt.Sprintf("GET /portal/resource/.../resourceGroups/%s?view=iam over HTTPS with the signed-in developer's session, %d sequential requests; the page reads one ARM page (100) of the scope's assignments, the role names and each principal's name through Graph; beside it the ARM call alone: p50 %.1f ms, p99 %.1f ms",
				portalIAMGroup, len(iam), ms(median(armIAM)), ms(percentile(armIAM, 99)))),
		latencyFigure("portalIAMARMList", "ARM role assignments list at that scope, first page ("+a+" assignments, same run)", armIAM, "", nil,
			fmt.Sprintf("GET .../roleAssignments?$filter=atScope(), default page (100), admin app token, %d sequential requests: the IAM blade's reference", len(armIAM))),
		latencyFigure("portalIdentitiesFirstPage", "portal Managed Identities list, first page ("+i+" identities)", ids, goal, target,
			fmt.Sprintf("GET /portal/identities?subscription=... over HTTPS with the signed-in developer's session, %d sequential requests; beside it the ARM call alone: p50 %.1f ms, p99 %.1f ms",
				len(ids), ms(median(armIDs)), ms(percentile(armIDs, 99)))),
		latencyFigure("portalIdentitiesARMList", "ARM user-assigned identities list by subscription, first page ("+i+" identities, same run)", armIDs, "", nil,
			fmt.Sprintf("GET .../providers/%s, default page (100), admin app token, %d sequential requests: the list page's reference", uaType, len(armIDs))),
	}, nil
}

// seedPortal writes nIDs user-assigned identities with their principals into the resource group
// portalIdentitiesGroup, and nAssign Reader assignments at the resource group portalIAMGroup to
// the first nAssign of those principals (so that the IAM blade names real managed identities),
// through the store's bulk path.
func seedPortal(ctx context.Context, path, tenantID, subscriptionID string, nIDs, nAssign int) error {
	st, err := sqlite.OpenWithOptions(ctx, path, sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	for _, g := range []string{portalIdentitiesGroup, portalIAMGroup} {
		if _, err := st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: subscriptionID, Name: g, Location: "westeurope", CreatedAt: now}); err != nil {
			return err
		}
	}
	nIDs = max(nIDs, nAssign)
	iamScope := "/subscriptions/" + subscriptionID + "/resourceGroups/" + portalIAMGroup
	return st.SeedManagedIdentities(ctx, nIDs, func(i int) store.IdentitySeed {
		seed := seedIdentity(tenantID, subscriptionID, portalIdentitiesGroup, i, now)
		if i < nAssign {
			seed.Assignments = []store.RoleAssignment{readerAssignment(iamScope, seed.Principal.ObjectID, seed.Resource.CreatedAt)}
		}
		return seed
	})
}

// portalBrowser is a signed-in browser: a cookie jar holding the portal's session.
type portalBrowser struct{ hc *http.Client }

func (b *portalBrowser) get(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

var (
	signInFormRE   = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	signInHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// portalSignIn signs mint dev's developer in to the portal as a browser does: the portal sends
// it to mint's authorize endpoint, the sign-in page's form is posted with the password, and the
// redirects end on the portal with its session cookie.
func portalSignIn(ctx context.Context, c *mgmt, inst *instance) (*portalBrowser, error) {
	var dev struct {
		UserPrincipalName string `json:"userPrincipalName"`
		Password          string `json:"password"`
	}
	b, err := os.ReadFile(filepath.Join(inst.dir, "developer.json"))
	if err != nil {
		return nil, fmt.Errorf("the developer's credentials: %w", err)
	}
	if err := json.Unmarshal(b, &dev); err != nil || dev.Password == "" {
		return nil, fmt.Errorf("developer.json: no password (%v)", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	br := &portalBrowser{hc: &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: c.hc.Transport}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"/portal/signin?return="+url.QueryEscape("/portal/"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := br.hc.Do(req)
	if err != nil {
		return nil, err
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	m := signInFormRE.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(string(page), `name="passwd"`) {
		return nil, fmt.Errorf("no sign-in page: HTTP %d at %s", resp.StatusCode, resp.Request.URL)
	}
	form := url.Values{"login": {dev.UserPrincipalName}, "passwd": {dev.Password}}
	for _, h := range signInHiddenRE.FindAllSubmatch(page, -1) {
		if form.Get(string(h[1])) == "" {
			form.Set(string(h[1]), html.UnescapeString(string(h[2])))
		}
	}
	action, err := url.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return nil, err
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, resp.Request.URL.ResolveReference(action).String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err = br.hc.Do(req); err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/portal/") {
		return nil, fmt.Errorf("after the sign-in form: HTTP %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return br, nil
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/postgres"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// The scale curve (mint bench --scale): does a request cost more when the directory is bigger?
// At each size a fresh mint dev's store is loaded with that many user-assigned identities (each
// with its principal and one Reader assignment at its resource group: as many assignments as
// identities) through the store's bulk load (SeedManagedIdentities: prepared INSERTs on SQLite,
// COPY and ANALYZE on PostgreSQL), mint dev is started on it, and through the real HTTPS
// path the run measures the fresh-token p99 (client credentials), the vault GET p99 and the first
// page of the identity list, then reads the server's RSS. The goal: p99 at the largest size
// within 1.3x of the p99 at the smallest; the RSS growth per identity is reported.

// readerRoleID is Azure's built-in Reader role.
const readerRoleID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

// scalePoint is what one size measured on one store.
type scalePoint struct {
	n                                      int
	token, vault, list, graph, search      time.Duration // p99s
	rss                                    uint64
	rssParts                               map[string]uint64 // RssAnon, RssFile, RssShmem
	seeded, started                        time.Duration
	tokenN, vaultN, listN, graphN, searchN int
}

// scaleFigures measures every size on SQLite and, with a PostgreSQL URL, on PostgreSQL.
func scaleFigures(ctx context.Context, o Options, step func(string, ...any)) ([]Figure, error) {
	stores := []string{"SQLite"}
	if o.PostgresURL != "" {
		stores = append(stores, "PostgreSQL")
	}
	var figs []Figure
	for _, storeName := range stores {
		var points []scalePoint
		for _, n := range o.Scale.ScaleSizes {
			step("scale: %s identities on %s ...", commas(n), storeName)
			p, err := scaleAt(ctx, o, storeName, n, step)
			if err != nil {
				return nil, fmt.Errorf("scale %s at %d identities: %w", storeName, n, err)
			}
			points = append(points, p)
		}
		figs = append(figs, scalePointFigures(storeName, points, o.Scale.ScaleSizes)...)
	}
	return figs, nil
}

// scalePointFigures turns one store's points into figures: per size the four p99s and the RSS
// (keys scale<What><Store>_<n>, the chart's lines), then the ratio of the largest size's p99 to
// the smallest's against the goal, and the RSS growth per identity.
func scalePointFigures(storeName string, points []scalePoint, sizes []int) []Figure {
	var figs []Figure
	for _, p := range points {
		at := fmt.Sprintf(" (%s, %s identities)", storeName, commas(p.n))
		suffix := storeName + "_" + strconv.Itoa(p.n)
		note := fmt.Sprintf("seeded in %.1f s (bulk load), mint dev started on them in %.2f s", p.seeded.Seconds(), p.started.Seconds())
		figs = append(figs,
			Figure{Key: "scaleTokenP99" + suffix, Name: "fresh token p99" + at, Value: ms(p.token), Unit: "ms",
				Note: fmt.Sprintf("client credentials over HTTPS, %d requests; %s", p.tokenN, note)},
			Figure{Key: "scaleVaultP99" + suffix, Name: "vault GET p99" + at, Value: ms(p.vault), Unit: "ms",
				Note: fmt.Sprintf("GET /secrets/<name>/ over HTTPS, %d requests", p.vaultN)},
			Figure{Key: "scaleListP99" + suffix, Name: "identity list first page p99" + at, Value: ms(p.list), Unit: "ms",
				Note: fmt.Sprintf("GET .../providers/%s by subscription, default page size, %d requests", uaType, p.listN)},
			Figure{Key: "scaleGraphP99" + suffix, Name: "Graph servicePrincipals first page p99" + at, Value: ms(p.graph), Unit: "ms",
				Note: fmt.Sprintf("GET /v1.0/servicePrincipals (az ad sp list), Graph's default page (100), %d requests", p.graphN)},
			Figure{Key: "scaleGraphSearchP99" + suffix, Name: "Graph servicePrincipals $search (portal member picker) p99" + at, Value: ms(p.search), Unit: "ms",
				Note: fmt.Sprintf(`GET /v1.0/servicePrincipals?$search="displayName:id-…" OR "appId:id-…" OR "id:id-…"&$top=999 with ConsistencyLevel: eventual, the portal's member picker with one identity's whole name typed (a different one each request), %d requests`, p.searchN)},
			Figure{Key: "scaleRSS" + suffix, Name: "server RSS" + at, Value: float64(p.rss) / (1 << 20), Unit: "MiB",
				Note: "VmRSS of mint dev after the measurements: " + rssPartsNote(p.rssParts)},
		)
	}
	if len(points) < 2 {
		return figs
	}
	first, last := points[0], points[len(points)-1]
	span := fmt.Sprintf("%s against %s identities", commas(last.n), commas(first.n))
	for _, c := range []struct {
		key, name string
		a, b      time.Duration
	}{
		{"scaleTokenRatio", "fresh token p99", last.token, first.token},
		{"scaleVaultRatio", "vault GET p99", last.vault, first.vault},
		{"scaleListRatio", "identity list first page p99", last.list, first.list},
		{"scaleGraphRatio", "Graph servicePrincipals first page p99", last.graph, first.graph},
		{"scaleGraphSearchRatio", "Graph servicePrincipals $search (portal member picker) p99", last.search, first.search},
	} {
		figs = append(figs, Figure{Key: c.key + storeName, Name: c.name + " growth (" + storeName + ", " + span + ")",
			Value: float64(c.a) / float64(max(c.b, time.Microsecond)), Unit: "x", Goal: "<= 1.3 x", Target: &Target{Max: 1.3},
			Note: fmt.Sprintf("p99 %.2f ms at %s, %.2f ms at %s", ms(c.a), commas(last.n), ms(c.b), commas(first.n))})
	}
	growth := (float64(last.rss) - float64(first.rss)) / float64(last.n-first.n)
	figs = append(figs, Figure{Key: "scaleRSSPerIdentity" + storeName, Name: "server RSS growth per identity (" + storeName + ", " + span + ")",
		Value: growth, Unit: "bytes/identity",
		Note: fmt.Sprintf("%.1f MiB at %s, %.1f MiB at %s; the server keeps nothing per identity: RBAC is read from the store per request, its caches are bounded by entries and 0.5 s, and SQLite's page caches by 2 MiB a connection",
			float64(last.rss)/(1<<20), commas(last.n), float64(first.rss)/(1<<20), commas(first.n))})
	return figs
}

// scaleAt measures one size on one store.
func scaleAt(ctx context.Context, o Options, storeName string, n int, step func(string, ...any)) (scalePoint, error) {
	p := scalePoint{n: n}
	dir, err := os.MkdirTemp("", "mint-bench-scale-")
	if err != nil {
		return p, err
	}
	defer os.RemoveAll(dir)
	var extra []string
	open := func() (seedStore, error) {
		return sqlite.OpenWithOptions(ctx, filepath.Join(dir, "mint.db"), sqlite.Options{Synchronous: "OFF"})
	}
	if storeName == "PostgreSQL" {
		dbURL, drop, err := freshDatabase(ctx, o.PostgresURL)
		if err != nil {
			return p, err
		}
		defer drop()
		extra = []string{"--store", dbURL}
		open = func() (seedStore, error) { return postgres.Open(ctx, dbURL) }
	}
	// A first start creates the tenant, the subscription and the admin application.
	inst, err := startDev(ctx, o.Binary, dir, extra...)
	if err != nil {
		return p, err
	}
	env := inst.env
	inst.stop()

	began := time.Now()
	st, err := open()
	if err != nil {
		return p, err
	}
	err = seedScale(ctx, st, env["AZURE_TENANT_ID"], env["AZURE_SUBSCRIPTION_ID"], n)
	st.Close()
	if err != nil {
		return p, fmt.Errorf("seed: %w", err)
	}
	p.seeded = time.Since(began)
	step("  seeded %s identities and role assignments in %.1f s; starting mint dev on them ...", commas(n), p.seeded.Seconds())

	began = time.Now()
	if inst, err = startDev(ctx, o.Binary, dir, extra...); err != nil {
		return p, err
	}
	defer inst.stop()
	p.started = time.Since(began)

	issued, _, err := tokenFigures(ctx, inst, o.Duration, o.Concurrency)
	if err != nil {
		return p, fmt.Errorf("fresh tokens: %w", err)
	}
	p.token, p.tokenN = percentile(issued.lat, 99), len(issued.lat)
	vf, vaultN, err := vaultP99(ctx, inst.env, o.Duration, o.Concurrency)
	if err != nil {
		return p, fmt.Errorf("vault: %w", err)
	}
	p.vault, p.vaultN = vf, vaultN
	c, err := newMgmt(inst.env, 2)
	if err != nil {
		return p, err
	}
	list := c.subscription() + "/providers/" + uaType + "?api-version=" + msiAPIVersion
	// 200 timed pages (40 short) so that the p99 is a percentile, not the slowest of a handful:
	// a page is a few milliseconds, so this is about a second per size.
	rounds := o.Scale.ListWalks * 40
	p.list, p.listN, err = firstPageP99(rounds, n, "list", func(page any) error {
		return c.arm(ctx, http.MethodGet, list, nil, page)
	})
	if err != nil {
		return p, err
	}
	// The same for Graph's list of the tenant's service principals, every identity among them.
	graphTok, err := c.token(ctx, graphScope)
	if err != nil {
		return p, err
	}
	p.graph, p.graphN, err = firstPageP99(rounds, n, "graph servicePrincipals", func(page any) error {
		_, err := c.do(ctx, graphTok, http.MethodGet, c.endpoint+"/v1.0/servicePrincipals", nil, page)
		return err
	})
	if err != nil {
		return p, err
	}
	// The portal's member picker once a name is typed ($search, read from the stores' word
	// index): each request types another identity's whole name, spread over the directory.
	i := 0
	p.search, p.searchN, err = firstPageP99(rounds, n, "graph servicePrincipals $search", func(page any) error {
		name := fmt.Sprintf("id-%07d", (i*7919)%n)
		i++
		var search []string
		for _, prop := range []string{"displayName", "appId", "id"} {
			search = append(search, `"`+prop+":"+name+`"`)
		}
		q := url.Values{"$search": {strings.Join(search, " OR ")}, "$top": {"999"}}
		_, err := c.doHeader(ctx, graphTok, http.MethodGet, c.endpoint+"/v1.0/servicePrincipals?"+q.Encode(),
			http.Header{"Consistencylevel": {"eventual"}}, nil, page)
		return err
	})
	if err != nil {
		return p, err
	}
	if p.rss, err = procRSS(inst.cmd.Process.Pid); err != nil {
		return p, err
	}
	if p.rssParts, err = procRSSParts(inst.cmd.Process.Pid); err != nil {
		return p, err
	}
	return p, nil
}

// procRSSParts reads what the resident set is made of from /proc/<pid>/status: RssAnon (the Go
// heap and stacks, SQLite's page caches), RssFile (pages of the binary and of mapped files, such
// as SQLite's -shm WAL index) and RssShmem, in bytes.
func procRSSParts(pid int) (map[string]uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	parts := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "RssAnon" && name != "RssFile" && name != "RssShmem") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/status: %s: %w", pid, name, err)
		}
		parts[name] = kb << 10
	}
	return parts, nil
}

// rssPartsNote says what procRSSParts found, in MiB.
func rssPartsNote(parts map[string]uint64) string {
	mib := func(k string) float64 { return float64(parts[k]) / (1 << 20) }
	return fmt.Sprintf("anonymous %.1f MiB (Go heap and stacks, SQLite's page caches), file %.1f MiB (the binary's pages, SQLite's mapped WAL index), shmem %.1f MiB",
		mib("RssAnon"), mib("RssFile"), mib("RssShmem"))
}

// vaultP99 is the vault GET p99 through VaultGetRate (which also loads its bare ceiling).
func vaultP99(ctx context.Context, env map[string]string, d time.Duration, concurrency int) (time.Duration, int, error) {
	f, err := VaultGetRate(ctx, env, d, concurrency)
	if err != nil {
		return 0, 0, err
	}
	return f.VaultP99, int(f.Vault * d.Seconds()), nil
}

// seedStore is a store with the bench's bulk load (SQLite's and PostgreSQL's).
type seedStore interface {
	PutResourceGroup(ctx context.Context, g store.ResourceGroup) (bool, error)
	SeedManagedIdentities(ctx context.Context, n int, identity func(i int) store.IdentitySeed) error
	Close() error
}

// seedScale writes n user-assigned identities into the resource group "scale" of subscriptionID,
// each with its principal (as the ARM provider creates them) and a Reader assignment at the group,
// through the store's bulk load.
func seedScale(ctx context.Context, st seedStore, tenantID, subscriptionID string, n int) error {
	now := time.Now().UTC()
	if _, err := st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: subscriptionID, Name: "scale", Location: "westeurope", CreatedAt: now}); err != nil {
		return err
	}
	group := "/subscriptions/" + subscriptionID + "/resourceGroups/scale"
	return st.SeedManagedIdentities(ctx, n, func(i int) store.IdentitySeed {
		seed := seedIdentity(tenantID, subscriptionID, "scale", i, now)
		seed.Assignments = []store.RoleAssignment{readerAssignment(group, seed.Principal.ObjectID, seed.Resource.CreatedAt)}
		return seed
	})
}

// seedIdentity is the i-th user-assigned identity of a bulk load into group, named id-<i>, with
// the principal and properties the ARM provider creates it with, created i µs after now.
func seedIdentity(tenantID, subscriptionID, group string, i int, now time.Time) store.IdentitySeed {
	name := fmt.Sprintf("id-%07d", i)
	id := "/subscriptions/" + subscriptionID + "/resourceGroups/" + group + "/providers/" + uaType + "/" + name
	sp := directory.NewManagedIdentityPrincipal(tenantID, name, strings.Replace(id, "/resourceGroups/", "/resourcegroups/", 1))
	props, _ := json.Marshal(map[string]string{"tenantId": tenantID, "principalId": sp.ObjectID, "clientId": sp.AppID, "isolationScope": "None"})
	at := now.Add(time.Duration(i) * time.Microsecond)
	return store.IdentitySeed{
		Resource: store.Resource{ID: id, SubscriptionID: subscriptionID, ResourceGroup: group, Type: uaType, Name: name, Location: "westeurope",
			Properties: props, PrincipalID: sp.ObjectID, CreatedAt: at, UpdatedAt: at},
		Principal: sp,
	}
}

// readerAssignment is a Reader assignment of principalID at scope, as the bench creates it.
func readerAssignment(scope, principalID string, at time.Time) store.RoleAssignment {
	return store.RoleAssignment{ID: newGUID(), Scope: scope, RoleDefinitionID: readerRoleID, PrincipalID: strings.ToLower(principalID),
		PrincipalType: "ServicePrincipal", CreatedAt: at, UpdatedAt: at, CreatedBy: "mint bench", UpdatedBy: "mint bench"}
}

// firstPageP99 asks get for a list's first page rounds+1 times, the first as a warm-up, and
// returns the p99 of the timed ones and their count; an empty page is an error (every
// identity of the directory is on the list).
func firstPageP99(rounds, identities int, what string, get func(page any) error) (time.Duration, int, error) {
	lat := make([]time.Duration, 0, rounds)
	for i := range rounds + 1 {
		var page struct {
			Value []json.RawMessage `json:"value"`
		}
		t := time.Now()
		if err := get(&page); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", what, err)
		}
		if len(page.Value) == 0 {
			return 0, 0, fmt.Errorf("%s: an empty first page with %d identities", what, identities)
		}
		if i > 0 { // the first is the warm-up
			lat = append(lat, time.Since(t))
		}
	}
	return percentile(lat, 99), len(lat), nil
}

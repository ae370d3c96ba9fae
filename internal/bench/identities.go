package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/managedidentity"
	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/sqlite"
)

// The control-plane figures: user-assigned identities created per second through the ARM
// endpoint (the real HTTP path: bearer validation, RBAC, the store transaction creating the
// resource and its principal, the activity log) on SQLite and PostgreSQL, and the latency of
// listing identities by subscription when there are many.

// A full run keeps to runBudget: the walk of every page of the list, the last and the longest
// measurement, gets the time that remains (at least minWalkBudget), and is extrapolated from the
// pages it walked when that runs out.
const (
	runBudget     = 4*time.Minute + 30*time.Second
	minWalkBudget = 20 * time.Second
)

const (
	msiAPIVersion = "2023-01-31"
	uaType        = managedidentity.UserAssignedType
)

// createRate PUTs new user-assigned identities from workers for d.
func createRate(ctx context.Context, c *mgmt, storeName string, d time.Duration, workers int) (Figure, error) {
	group := "create-" + strings.ToLower(storeName)
	groupID, err := c.createGroup(ctx, group)
	if err != nil {
		return Figure{}, err
	}
	var seq atomic.Int64
	s, err := loadFor(ctx, d, workers, func(int) error {
		id := fmt.Sprintf("%s/providers/%s/id-%07d?api-version=%s", groupID, uaType, seq.Add(1), msiAPIVersion)
		var out struct {
			Properties struct {
				PrincipalID string `json:"principalId"`
			} `json:"properties"`
		}
		if err := c.arm(ctx, http.MethodPut, id, map[string]any{"location": "westeurope"}, &out); err != nil {
			return err
		}
		if out.Properties.PrincipalID == "" {
			return fmt.Errorf("PUT %s: no principalId in the answer", id)
		}
		return nil
	})
	if err != nil {
		return Figure{}, err
	}
	return withLatency(Figure{Key: "identityCreate" + storeName, Name: "identity creates per second through ARM (" + storeName + ")",
		Value: s.rate(), Unit: "identities/s", Goal: ">= 500/s", Target: &Target{Min: 500},
		Note: fmt.Sprintf("PUT userAssignedIdentities over HTTPS, %d concurrent clients, keep-alive; %d created in %.1f s (each: resource, principal and activity-log entry in one store write)",
			workers, s.n, s.dur.Seconds())}, s.lat), nil
}

// postgresCreateRate starts a second mint dev on a fresh PostgreSQL database, measures the
// create rate there, and drops the database.
func postgresCreateRate(ctx context.Context, o Options) (Figure, error) {
	dbURL, drop, err := freshDatabase(ctx, o.PostgresURL)
	if err != nil {
		return Figure{}, err
	}
	defer drop()
	inst, err := startDev(ctx, o.Binary, "", "--store", dbURL)
	if err != nil {
		return Figure{}, err
	}
	defer inst.stop()
	c, err := newMgmt(inst.env, 2*o.Scale.CreateWorkers)
	if err != nil {
		return Figure{}, err
	}
	return createRate(ctx, c, "PostgreSQL", o.Duration, o.Scale.CreateWorkers)
}

// freshDatabase creates an empty database on the server adminURL names and returns its URL
// and a function that drops it.
func freshDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("PostgreSQL URL must be postgres://user@host:port/db")
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("mint_bench_%d", rand.Uint64()>>1)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, adminURL); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// listFigures: list latency by subscription with n identities. A `mint dev` is started once to
// create its tenant and subscription and stopped; the identities are then written straight into
// its SQLite file (as the ARM provider writes them: the resource and its principal in one
// PutResource), with synchronous=OFF because waiting for 100,000 fsyncs would measure the disk,
// not the list; mint dev is started again on the file, and the list is asked for through ARM.
func listFigures(ctx context.Context, o Options, runBegan time.Time, step func(string, ...any)) ([]Figure, error) {
	n := o.Scale.ListIdentities
	dir, err := os.MkdirTemp("", "mint-bench-list-")
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
	appIDs, err := seedIdentities(ctx, filepath.Join(dir, "mint.db"), env["AZURE_TENANT_ID"], env["AZURE_SUBSCRIPTION_ID"], n)
	if err != nil {
		return nil, fmt.Errorf("seed %d identities: %w", n, err)
	}
	seeded := time.Since(began)
	step("seeded %d identities in %.1f s; starting mint dev on them ...", n, seeded.Seconds())

	began = time.Now()
	inst, err = startDev(ctx, o.Binary, dir)
	if err != nil {
		return nil, err
	}
	defer inst.stop()
	start := time.Since(began)
	c, err := newMgmt(inst.env, 2)
	if err != nil {
		return nil, err
	}
	list := c.subscription() + "/providers/" + uaType + "?api-version=" + msiAPIVersion
	type page struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"nextLink"`
	}
	get := func(u string) (page, time.Duration, error) {
		var p page
		t := time.Now()
		err := c.arm(ctx, http.MethodGet, u, nil, &p)
		return p, time.Since(t), err
	}
	if _, _, err := get(list); err != nil { // warm-up: connection, token, caches
		return nil, err
	}
	var first []time.Duration
	for range o.Scale.ListWalks {
		p, d, err := get(list)
		if err != nil {
			return nil, err
		}
		if len(p.Value) == 0 || (p.NextLink == "" && n > len(p.Value)) {
			return nil, fmt.Errorf("first page: %d identities, nextLink %q", len(p.Value), p.NextLink)
		}
		first = append(first, d)
	}

	// The whole list, as the SDKs' pagers walk it: nextLink after nextLink, with the page size
	// ARM allows at most ($top=1000). With the default page (100) it would be ten times as many
	// pages, each costing about what one costs here. A walk that outlasts the run's remaining
	// time is stopped and its total extrapolated from the pages walked.
	var pages []time.Duration
	total := 0
	walkBegan := time.Now()
	budget := max(time.Until(runBegan.Add(runBudget)), minWalkBudget)
	u := list + "&$top=1000"
	for u != "" && time.Since(walkBegan) < budget {
		p, d, err := get(u)
		if err != nil {
			return nil, err
		}
		pages = append(pages, d)
		total += len(p.Value)
		u = p.NextLink
	}
	walk := time.Since(walkBegan)
	walkNote := fmt.Sprintf("one walk of %d pages following nextLink, %s identities; p50/p99 are per page", len(pages), commas(total))
	if u != "" {
		expected := (n + 999) / 1000
		walkNote = fmt.Sprintf("walk stopped when the run's time ran out (%.0f s) after %d of %d pages (%s identities): value extrapolated to every page; p50/p99 are per page",
			budget.Seconds(), len(pages), expected, commas(total))
		walk = walk * time.Duration(expected) / time.Duration(len(pages))
	} else if total < n {
		return nil, fmt.Errorf("walking the list gave %d identities, want %d", total, n)
	}

	// Graph: the first page of the tenant's service principals (az ad sp list; every identity is
	// one) and az's lookup of one by appId, each read from the store's indexes.
	graphTok, err := c.token(ctx, graphScope)
	if err != nil {
		return nil, err
	}
	graphGet := func(u string) (page, time.Duration, error) {
		var p page
		t := time.Now()
		_, err := c.do(ctx, graphTok, http.MethodGet, c.endpoint+u, nil, &p)
		return p, time.Since(t), err
	}
	if _, _, err := graphGet("/v1.0/servicePrincipals"); err != nil { // warm-up
		return nil, fmt.Errorf("graph servicePrincipals: %w", err)
	}
	var spFirst []time.Duration
	for range o.Scale.ListWalks {
		p, d, err := graphGet("/v1.0/servicePrincipals")
		if err != nil {
			return nil, fmt.Errorf("graph servicePrincipals: %w", err)
		}
		if len(p.Value) != 100 {
			return nil, fmt.Errorf("graph servicePrincipals first page: %d objects, want 100", len(p.Value))
		}
		spFirst = append(spFirst, d)
	}
	var lookups []time.Duration
	for _, appID := range appIDs {
		p, d, err := graphGet("/v1.0/servicePrincipals?$filter=" + url.QueryEscape("appId eq '"+appID+"'"))
		if err != nil {
			return nil, fmt.Errorf("graph servicePrincipals appId eq: %w", err)
		}
		if len(p.Value) != 1 {
			return nil, fmt.Errorf("graph servicePrincipals appId eq '%s': %d objects, want 1", appID, len(p.Value))
		}
		lookups = append(lookups, d)
	}

	scale := commas(n)
	return []Figure{
		latencyFigure("listFirstPage", "identity list by subscription, first page ("+scale+" identities)", first, "", nil,
			fmt.Sprintf("GET .../providers/%s, default page size (100), %d sequential requests; seeded in %.1f s, mint dev then restarted on them in %.2f s",
				uaType, len(first), seeded.Seconds(), start.Seconds())),
		{Key: "listFullWalk", Name: "identity list by subscription, every page ($top=1000, " + scale + " identities)", Value: walk.Seconds() * 1000, Unit: "ms",
			P50: ms(median(pages)), P99: ms(percentile(pages, 99)), LatencyUnit: "ms/page",
			Note: walkNote},
		latencyFigure("graphSPFirstPage", "Graph servicePrincipals first page, az ad sp list ("+scale+" identities)", spFirst, "", nil,
			fmt.Sprintf("GET /v1.0/servicePrincipals, Graph's default page (100), %d sequential requests", len(spFirst))),
		latencyFigure("graphSPByAppID", "Graph servicePrincipals $filter=appId eq lookup ("+scale+" identities)", lookups, "", nil,
			fmt.Sprintf("GET /v1.0/servicePrincipals?$filter=appId eq '...', %d sequential lookups of identities spread over the list", len(lookups))),
	}, nil
}

// seedIdentities writes n user-assigned identities, with their principals, into the resource
// group "list" of subscriptionID in the SQLite file at path, and returns the client ids (appId)
// of up to 100 of them, spread over the list, for lookups.
func seedIdentities(ctx context.Context, path, tenantID, subscriptionID string, n int) ([]string, error) {
	st, err := sqlite.OpenWithOptions(ctx, path, sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	now := time.Now().UTC()
	if _, err := st.PutResourceGroup(ctx, store.ResourceGroup{SubscriptionID: subscriptionID, Name: "list", Location: "westeurope", CreatedAt: now}); err != nil {
		return nil, err
	}
	var appIDs []string
	every := max(n/100, 1)
	prefix := "/subscriptions/" + subscriptionID + "/resourceGroups/list/providers/" + uaType + "/"
	for i := range n {
		name := fmt.Sprintf("id-%06d", i)
		id := prefix + name
		sp := directory.NewManagedIdentityPrincipal(tenantID, name, strings.Replace(id, "/resourceGroups/", "/resourcegroups/", 1))
		props, _ := json.Marshal(map[string]string{"tenantId": tenantID, "principalId": sp.ObjectID, "clientId": sp.AppID, "isolationScope": "None"})
		at := now.Add(time.Duration(i) * time.Microsecond)
		r := store.Resource{ID: id, SubscriptionID: subscriptionID, ResourceGroup: "list", Type: uaType, Name: name, Location: "westeurope",
			Properties: props, PrincipalID: sp.ObjectID, CreatedAt: at, UpdatedAt: at}
		if _, err := st.PutResource(ctx, r, []store.ServicePrincipal{sp}, nil); err != nil {
			return nil, err
		}
		if i%every == 0 {
			appIDs = append(appIDs, sp.AppID)
		}
	}
	return appIDs, nil
}

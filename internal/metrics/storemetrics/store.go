// Package storemetrics is the server side of mint's Prometheus instrumentation that needs the
// store's types: latency of the store's hot operations and the count of tokens issued and refused
// from the sign-in log stream. It is apart from internal/metrics so the node agent need not link
// the store.
package storemetrics

import (
	"context"
	"time"

	"github.com/mint-id/mint/internal/metrics"
	"github.com/mint-id/mint/internal/store"
)

// Store measures the latency of the operations on mint's hot paths (token issuance, the broker
// decision, authorization, the control plane's resource writes); every other operation passes
// through unmeasured.
func Store(m *metrics.Metrics, st store.Store) store.Store { return &measuredStore{Store: st, m: m} }

type measuredStore struct {
	store.Store
	m *metrics.Metrics
}

func (s *measuredStore) GetTenant(ctx context.Context, idOrDomain string) (t store.Tenant, err error) {
	start := time.Now()
	t, err = s.Store.GetTenant(ctx, idOrDomain)
	s.m.ObserveStore("GetTenant", start, err)
	return t, err
}

func (s *measuredStore) GetPrincipal(ctx context.Context, objectID string) (sp store.ServicePrincipal, err error) {
	start := time.Now()
	sp, err = s.Store.GetPrincipal(ctx, objectID)
	s.m.ObserveStore("GetPrincipal", start, err)
	return sp, err
}

func (s *measuredStore) GetPrincipalByAppID(ctx context.Context, tenantID, appID string) (sp store.ServicePrincipal, err error) {
	start := time.Now()
	sp, err = s.Store.GetPrincipalByAppID(ctx, tenantID, appID)
	s.m.ObserveStore("GetPrincipalByAppID", start, err)
	return sp, err
}

func (s *measuredStore) GetPrincipalByIdentifierURI(ctx context.Context, tenantID, uri string) (sp store.ServicePrincipal, err error) {
	start := time.Now()
	sp, err = s.Store.GetPrincipalByIdentifierURI(ctx, tenantID, uri)
	s.m.ObserveStore("GetPrincipalByIdentifierURI", start, err)
	return sp, err
}

func (s *measuredStore) ListCredentials(ctx context.Context, principalID string) (c []store.Credential, err error) {
	start := time.Now()
	c, err = s.Store.ListCredentials(ctx, principalID)
	s.m.ObserveStore("ListCredentials", start, err)
	return c, err
}

func (s *measuredStore) ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) (a []store.RoleAssignment, err error) {
	start := time.Now()
	a, err = s.Store.ListRoleAssignmentsForPrincipal(ctx, principalID)
	s.m.ObserveStore("ListRoleAssignmentsForPrincipal", start, err)
	return a, err
}

func (s *measuredStore) GetResource(ctx context.Context, id string) (r store.Resource, err error) {
	start := time.Now()
	r, err = s.Store.GetResource(ctx, id)
	s.m.ObserveStore("GetResource", start, err)
	return r, err
}

func (s *measuredStore) PutResource(ctx context.Context, r store.Resource, create []store.ServicePrincipal, del []string) (created bool, err error) {
	start := time.Now()
	created, err = s.Store.PutResource(ctx, r, create, del)
	s.m.ObserveStore("PutResource", start, err)
	return created, err
}

func (s *measuredStore) RecordSignIns(ctx context.Context, entries []store.SignIn) (err error) {
	start := time.Now()
	err = s.Store.RecordSignIns(ctx, entries)
	s.m.ObserveStore("RecordSignIns", start, err)
	return err
}

func (s *measuredStore) AppendActivity(ctx context.Context, events ...store.ActivityEvent) (err error) {
	start := time.Now()
	err = s.Store.AppendActivity(ctx, events...)
	s.m.ObserveStore("AppendActivity", start, err)
	return err
}

// SignInRecorder is the STS's sign-in sink (sts.SignInRecorder).
type SignInRecorder interface{ Record(store.SignIn) }

// CountSignIns wraps the sign-in log so every token issued or refused is also counted.
func CountSignIns(m *metrics.Metrics, next SignInRecorder) SignInRecorder {
	return signInCounter{m: m, next: next}
}

type signInCounter struct {
	m    *metrics.Metrics
	next SignInRecorder
}

func (c signInCounter) Record(e store.SignIn) {
	c.m.CountToken(e.Grant, e.Result, e.ErrorCode)
	c.next.Record(e)
}

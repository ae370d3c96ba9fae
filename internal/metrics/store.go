package metrics

import (
	"context"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// Store measures the latency of the operations on mint's hot paths (token issuance, the broker
// decision, authorization, the control plane's resource writes); every other operation passes
// through unmeasured.
func (m *Metrics) Store(st store.Store) store.Store { return &measuredStore{Store: st, m: m} }

type measuredStore struct {
	store.Store
	m *Metrics
}

func (s *measuredStore) GetTenant(ctx context.Context, idOrDomain string) (t store.Tenant, err error) {
	start := time.Now()
	t, err = s.Store.GetTenant(ctx, idOrDomain)
	s.m.observeStore("GetTenant", start, err)
	return t, err
}

func (s *measuredStore) GetPrincipal(ctx context.Context, objectID string) (sp store.ServicePrincipal, err error) {
	start := time.Now()
	sp, err = s.Store.GetPrincipal(ctx, objectID)
	s.m.observeStore("GetPrincipal", start, err)
	return sp, err
}

func (s *measuredStore) GetPrincipalByAppID(ctx context.Context, tenantID, appID string) (sp store.ServicePrincipal, err error) {
	start := time.Now()
	sp, err = s.Store.GetPrincipalByAppID(ctx, tenantID, appID)
	s.m.observeStore("GetPrincipalByAppID", start, err)
	return sp, err
}

func (s *measuredStore) GetPrincipalByIdentifierURI(ctx context.Context, tenantID, uri string) (sp store.ServicePrincipal, err error) {
	start := time.Now()
	sp, err = s.Store.GetPrincipalByIdentifierURI(ctx, tenantID, uri)
	s.m.observeStore("GetPrincipalByIdentifierURI", start, err)
	return sp, err
}

func (s *measuredStore) ListCredentials(ctx context.Context, principalID string) (c []store.Credential, err error) {
	start := time.Now()
	c, err = s.Store.ListCredentials(ctx, principalID)
	s.m.observeStore("ListCredentials", start, err)
	return c, err
}

func (s *measuredStore) ListRoleAssignmentsForPrincipal(ctx context.Context, principalID string) (a []store.RoleAssignment, err error) {
	start := time.Now()
	a, err = s.Store.ListRoleAssignmentsForPrincipal(ctx, principalID)
	s.m.observeStore("ListRoleAssignmentsForPrincipal", start, err)
	return a, err
}

func (s *measuredStore) GetResource(ctx context.Context, id string) (r store.Resource, err error) {
	start := time.Now()
	r, err = s.Store.GetResource(ctx, id)
	s.m.observeStore("GetResource", start, err)
	return r, err
}

func (s *measuredStore) PutResource(ctx context.Context, r store.Resource, create []store.ServicePrincipal, del []string) (created bool, err error) {
	start := time.Now()
	created, err = s.Store.PutResource(ctx, r, create, del)
	s.m.observeStore("PutResource", start, err)
	return created, err
}

func (s *measuredStore) RecordSignIns(ctx context.Context, entries []store.SignIn) (err error) {
	start := time.Now()
	err = s.Store.RecordSignIns(ctx, entries)
	s.m.observeStore("RecordSignIns", start, err)
	return err
}

func (s *measuredStore) AppendActivity(ctx context.Context, events ...store.ActivityEvent) (err error) {
	start := time.Now()
	err = s.Store.AppendActivity(ctx, events...)
	s.m.observeStore("AppendActivity", start, err)
	return err
}

package sqlstore

import (
	"context"
	"fmt"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Tenants

func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	_, err := s.exec(ctx, `INSERT INTO tenants (id_key, id, display_name, default_domain, domain_key, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		column.Key(t.ID), t.ID, t.DisplayName, t.DefaultDomain, nullIfEmpty(column.Key(t.DefaultDomain)), t.CreatedAt)
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

const tenantColumns = `id, display_name, default_domain, created_at`

func scanTenant(row scanner) (store.Tenant, error) {
	var t store.Tenant
	err := row.Scan(&t.ID, &t.DisplayName, &t.DefaultDomain, tm(&t.CreatedAt))
	return t, err
}

func (s *Store) GetTenant(ctx context.Context, idOrDomain string) (store.Tenant, error) {
	t, err := get(ctx, s, scanTenant, `SELECT `+tenantColumns+` FROM tenants
		WHERE id_key = $1 OR domain_key = $1 ORDER BY id_key = $1 DESC LIMIT 1`, column.Key(idOrDomain))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("get tenant %s: %w", idOrDomain, err)
	}
	return t, nil
}

func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	ts, err := list(ctx, s, scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id_key`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// Subscriptions

func (s *Store) CreateSubscription(ctx context.Context, sub store.Subscription) error {
	_, err := s.exec(ctx, `INSERT INTO subscriptions (id_key, id, tenant_id, tenant_key, display_name, state, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		column.Key(sub.ID), sub.ID, sub.TenantID, column.Key(sub.TenantID), sub.DisplayName, sub.State, sub.CreatedAt)
	if err != nil {
		return fmt.Errorf("create subscription %s: %w", sub.ID, err)
	}
	return nil
}

const subscriptionColumns = `id, tenant_id, display_name, state, created_at`

func scanSubscription(row scanner) (store.Subscription, error) {
	var sub store.Subscription
	err := row.Scan(&sub.ID, &sub.TenantID, &sub.DisplayName, &sub.State, tm(&sub.CreatedAt))
	return sub, err
}

func (s *Store) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	sub, err := get(ctx, s, scanSubscription, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id_key = $1`, column.Key(id))
	if err != nil {
		return store.Subscription{}, fmt.Errorf("get subscription %s: %w", id, err)
	}
	return sub, nil
}

func (s *Store) ListSubscriptions(ctx context.Context, tenantID string) ([]store.Subscription, error) {
	subs, err := list(ctx, s, scanSubscription, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE tenant_key = $1 ORDER BY created_at, id_key`, column.Key(tenantID))
	if err != nil {
		return nil, fmt.Errorf("list subscriptions of tenant %s: %w", tenantID, err)
	}
	return subs, nil
}

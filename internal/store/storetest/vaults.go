package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/store"
)

// # Key Vault data plane (store.Vaults)
//
// Vaults are keyed by Name, case-insensitively, unique across the installation; a resource has
// at most one vault. CreateVault: ErrConflict for a taken name (any case) or a resource that has
// a vault, ErrNotFound when the resource does not exist. GetVault returns the vault with its
// resource (as GetResource would). Deleting the resource (DeleteResource, DeleteResourceGroup)
// keeps the vault as deleted (GetDeletedVault, ListDeletedVaults) with its data key and secrets,
// its PurgeAt DeletedAt plus the properties' softDeleteRetentionInDays (default 90); its name
// stays taken (CreateVault: ErrConflict) until PurgeDeletedVault (or PurgeDeletedVaults at its
// PurgeAt) or RecoverVault, which brings back the resource, the vault and every secret.
//
// Secrets are keyed by (vault, name), names case-insensitively, returned as first written.
// Versions are compared case-insensitively; Seq is 1 for a secret's first version and one more
// for each next one (RestoreSecret numbers the versions given 1..n). The latest version is the
// one with the highest Seq.
//   - PutSecretVersion: ErrNotFound for a missing vault; ErrConflict while the secret is
//     deleted. Concurrent puts of one secret all succeed with distinct seqs.
//   - GetSecretVersion, ListSecrets, ListSecretVersions, UpdateSecretVersion see only secrets
//     that are not deleted (ErrNotFound, absent, nil, ErrNotFound).
//   - ListSecrets / ListDeletedSecrets: by name key, strictly after afterName, at most limit
//     (<= 0: all). ListSecretVersions: by Seq, strictly after afterSeq.
//   - DeleteSecret, RecoverSecret, PurgeSecret: ErrNotFound unless the secret is in the state
//     they leave (not deleted, deleted, deleted). PurgeDeletedSecrets removes the deleted
//     secrets with PurgeAt <= now and counts them.
//   - RestoreSecret: ErrConflict when the name exists in any state; ErrNotFound for a missing
//     vault.
//   - NotBefore and Expires: the zero time stays the zero time; times UTC at the microsecond;
//     empty Tags and Value come back nil.

const vaultType = "Microsoft.KeyVault/vaults"

func storedSecretVersion(v store.SecretVersion) store.SecretVersion {
	if len(v.Tags) == 0 {
		v.Tags = nil
	}
	v.Value = nilIfEmpty(v.Value)
	v.Version = strings.ToLower(v.Version)
	if !v.NotBefore.IsZero() {
		v.NotBefore = storedTime(v.NotBefore)
	}
	if !v.Expires.IsZero() {
		v.Expires = storedTime(v.Expires)
	}
	v.Created, v.Updated = storedTime(v.Created), storedTime(v.Updated)
	return v
}

// vaultFixture makes a group and a vault resource, and the vault record for it.
func vaultFixture(t *testing.T, s store.Store, name string) (store.Vault, store.Resource) {
	t.Helper()
	sub, group := newID(), "rg-"+newID()[:8]
	mustPutGroup(t, s, newGroup(sub, group, t0))
	r := newResource(sub, group, vaultType, name, t0)
	mustPutResource(t, s, r)
	v := store.Vault{Name: name, ResourceID: r.ID, DataKey: []byte("sealed data key of " + name), CreatedAt: t0}
	ok(t, s.CreateVault(t.Context(), v), "create vault "+name)
	return v, r
}

func newSecretVersion(vaultName, name string, created time.Time) store.SecretVersion {
	return store.SecretVersion{
		VaultName:   vaultName,
		Name:        name,
		Version:     strings.ReplaceAll(newID(), "-", ""),
		Value:       []byte("ciphertext of " + name),
		ContentType: "text/plain",
		Tags:        map[string]string{"a": "b"},
		Enabled:     true,
		Created:     created,
		Updated:     created,
	}
}

func mustPutSecret(t *testing.T, s store.Store, v store.SecretVersion) store.SecretVersion {
	t.Helper()
	put, err := s.PutSecretVersion(t.Context(), v)
	ok(t, err, "put secret "+v.Name)
	got, err := s.GetSecretVersion(t.Context(), v.VaultName, v.Name, v.Version)
	ok(t, err, "get secret "+v.Name+"/"+v.Version)
	equal(t, put.Name, got.Name, "name PutSecretVersion returns")
	equal(t, put.Seq, got.Seq, "seq PutSecretVersion returns")
	return got
}

func secretNames(vs []store.SecretVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

func secretVersions(vs []store.SecretVersion) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out
}

func testVaults(t *testing.T, s store.Store) {
	ctx := t.Context()
	name := "Kv-" + newID()[:8]
	v, r := vaultFixture(t, s, name)

	got, err := s.GetVault(ctx, strings.ToUpper(name))
	ok(t, err, "get vault by another case")
	want := v
	want.CreatedAt = storedTime(v.CreatedAt)
	want.Resource = storedResource(r)
	equal(t, got, want, "vault")

	isErr(t, s.CreateVault(ctx, store.Vault{Name: strings.ToLower(name), ResourceID: r.ID + "x", DataKey: []byte{1}, CreatedAt: t0}),
		store.ErrConflict, "a second vault of the name in another case")
	_, other := vaultFixture(t, s, "other-"+newID()[:8])
	isErr(t, s.CreateVault(ctx, store.Vault{Name: "third-" + newID()[:8], ResourceID: other.ID, DataKey: []byte{1}, CreatedAt: t0}),
		store.ErrConflict, "a second vault for one resource")
	isErr(t, s.CreateVault(ctx, store.Vault{Name: "orphan-" + newID()[:8], ResourceID: r.ID + "-missing", DataKey: []byte{1}, CreatedAt: t0}),
		store.ErrNotFound, "a vault for a missing resource")
	_, err = s.GetVault(ctx, "missing-"+newID()[:8])
	isErr(t, err, store.ErrNotFound, "get a missing vault")

	// The resource's updates show through the vault.
	r.Properties = []byte(`{"enableRbacAuthorization":false}`)
	mustPutResource(t, s, r)
	got, err = s.GetVault(ctx, name)
	ok(t, err, "get vault after its resource changed")
	equal(t, string(got.Resource.Properties), string(r.Properties), "vault resource properties")
}

func testSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	v, _ := vaultFixture(t, s, "kv-"+newID()[:8])
	vault := strings.ToUpper(v.Name) // any spelling of the vault's name works

	first := newSecretVersion(vault, "MySecret", t0)
	first.NotBefore, first.Expires = t0.Add(-time.Hour), t0.Add(time.Hour)
	got := mustPutSecret(t, s, first)
	want := storedSecretVersion(first)
	want.Seq = 1
	equal(t, got, want, "first version")

	second := newSecretVersion(vault, "MYSECRET", t0.Add(time.Second))
	second.Tags, second.ContentType, second.Value = nil, "", nil
	second.Value = []byte{0}
	put2, err := s.PutSecretVersion(ctx, second)
	ok(t, err, "put a second version")
	equal(t, put2.Name, "MySecret", "a later version keeps the first spelling")
	latest, err := s.GetSecretVersion(ctx, vault, "mysecret", "")
	ok(t, err, "get latest")
	want2 := storedSecretVersion(second)
	want2.Name, want2.Seq = "MySecret", 2
	equal(t, latest, want2, "latest version keeps the first spelling of the name")
	got, err = s.GetSecretVersion(ctx, vault, "mysecret", strings.ToUpper(first.Version))
	ok(t, err, "get a version in upper case")
	equal(t, got.Seq, int64(1), "seq of the first version")

	_, err = s.GetSecretVersion(ctx, vault, "mysecret", strings.Repeat("0", 32))
	isErr(t, err, store.ErrNotFound, "get a missing version")
	_, err = s.GetSecretVersion(ctx, vault, "missing", "")
	isErr(t, err, store.ErrNotFound, "get a missing secret")
	isErr(t, errOf(s.PutSecretVersion(ctx, newSecretVersion("missing-vault-"+newID()[:8], "x", t0))), store.ErrNotFound, "put into a missing vault")
	isErr(t, errOf(s.PutSecretVersion(ctx, store.SecretVersion{VaultName: vault, Name: "MySecret", Version: first.Version, Value: []byte{1}, Created: t0, Updated: t0})),
		store.ErrConflict, "put an existing version")

	versions, err := s.ListSecretVersions(ctx, vault, "MYSECRET", 0, 0)
	ok(t, err, "list versions")
	equal(t, secretVersions(versions), []string{first.Version, second.Version}, "versions, oldest first")
	versions, err = s.ListSecretVersions(ctx, vault, "MYSECRET", 1, 0)
	ok(t, err, "list versions after seq 1")
	equal(t, secretVersions(versions), []string{second.Version}, "versions after seq 1")
	versions, err = s.ListSecretVersions(ctx, vault, "MYSECRET", 0, 1)
	ok(t, err, "list one version")
	equal(t, secretVersions(versions), []string{first.Version}, "first page of versions")
	versions, err = s.ListSecretVersions(ctx, vault, "none", 0, 0)
	ok(t, err, "list versions of a missing secret")
	equal(t, versions, []store.SecretVersion(nil), "versions of a missing secret")

	for _, n := range []string{"c", "A", "b"} {
		mustPutSecret(t, s, newSecretVersion(vault, n, t0))
	}
	all, err := s.ListSecrets(ctx, vault, "", 0)
	ok(t, err, "list secrets")
	equal(t, secretNames(all), []string{"A", "b", "c", "MySecret"}, "secrets by name key")
	equal(t, all[3].Version, second.Version, "a list shows the latest version")
	page, err := s.ListSecrets(ctx, vault, "", 2)
	ok(t, err, "first page")
	equal(t, secretNames(page), []string{"A", "b"}, "first page")
	page, err = s.ListSecrets(ctx, vault, "B", 2)
	ok(t, err, "second page")
	equal(t, secretNames(page), []string{"c", "MySecret"}, "second page (afterName in another case)")

	upd := first
	upd.VaultName, upd.Name, upd.Version = vault, "mysecret", strings.ToUpper(first.Version)
	upd.Enabled, upd.Tags, upd.ContentType = false, nil, "application/json"
	upd.NotBefore, upd.Expires, upd.Updated = time.Time{}, t0.Add(48*time.Hour), t0.Add(time.Minute)
	ok(t, s.UpdateSecretVersion(ctx, upd), "update the first version")
	got, err = s.GetSecretVersion(ctx, vault, "MySecret", first.Version)
	ok(t, err, "get updated version")
	wantUpd := storedSecretVersion(upd)
	wantUpd.Name, wantUpd.Version, wantUpd.Seq, wantUpd.Value, wantUpd.Created = "MySecret", first.Version, 1, first.Value, storedTime(first.Created)
	equal(t, got, wantUpd, "updated version (value and created kept)")
	missing := upd
	missing.Version = strings.Repeat("a", 32)
	isErr(t, s.UpdateSecretVersion(ctx, missing), store.ErrNotFound, "update a missing version")
}

func testDeletedSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	v, _ := vaultFixture(t, s, "kv-"+newID()[:8])
	a := mustPutSecret(t, s, newSecretVersion(v.Name, "Alpha", t0))
	a2 := mustPutSecret(t, s, newSecretVersion(v.Name, "alpha", t0.Add(time.Second)))
	mustPutSecret(t, s, newSecretVersion(v.Name, "beta", t0))

	deletedAt, purgeAt := t0.Add(time.Hour), t0.Add(91*24*time.Hour)
	d, err := s.DeleteSecret(ctx, v.Name, "ALPHA", deletedAt, purgeAt)
	ok(t, err, "delete")
	equal(t, d, store.DeletedSecret{SecretVersion: a2, DeletedAt: storedTime(deletedAt), PurgeAt: storedTime(purgeAt)}, "deleted secret")
	_, err = s.DeleteSecret(ctx, v.Name, "alpha", deletedAt, purgeAt)
	isErr(t, err, store.ErrNotFound, "delete a deleted secret")
	_, err = s.DeleteSecret(ctx, v.Name, "never", deletedAt, purgeAt)
	isErr(t, err, store.ErrNotFound, "delete a missing secret")

	_, err = s.GetSecretVersion(ctx, v.Name, "alpha", "")
	isErr(t, err, store.ErrNotFound, "get a deleted secret")
	_, err = s.GetSecretVersion(ctx, v.Name, "alpha", a.Version)
	isErr(t, err, store.ErrNotFound, "get a version of a deleted secret")
	versions, err := s.ListSecretVersions(ctx, v.Name, "alpha", 0, 0)
	ok(t, err, "list versions of a deleted secret")
	equal(t, versions, []store.SecretVersion(nil), "versions of a deleted secret")
	live, err := s.ListSecrets(ctx, v.Name, "", 0)
	ok(t, err, "list secrets")
	equal(t, secretNames(live), []string{"beta"}, "a deleted secret is not listed")
	isErr(t, errOf(s.PutSecretVersion(ctx, newSecretVersion(v.Name, "alpha", t0))), store.ErrConflict, "set a deleted secret")
	upd := a
	upd.Enabled = false
	isErr(t, s.UpdateSecretVersion(ctx, upd), store.ErrNotFound, "update a deleted secret")

	gd, err := s.GetDeletedSecret(ctx, v.Name, "alpha")
	ok(t, err, "get deleted")
	equal(t, gd, d, "get deleted")
	_, err = s.GetDeletedSecret(ctx, v.Name, "beta")
	isErr(t, err, store.ErrNotFound, "get deleted of a live secret")
	ds, err := s.ListDeletedSecrets(ctx, v.Name, "", 0)
	ok(t, err, "list deleted")
	equal(t, len(ds), 1, "deleted secrets")
	equal(t, ds[0], d, "listed deleted secret")

	isErr(t, s.PurgeSecret(ctx, v.Name, "beta"), store.ErrNotFound, "purge a live secret")
	_, err = s.RecoverSecret(ctx, v.Name, "beta")
	isErr(t, err, store.ErrNotFound, "recover a live secret")

	rec, err := s.RecoverSecret(ctx, v.Name, "alpha")
	ok(t, err, "recover")
	equal(t, rec, a2, "recovered secret is its latest version")
	got, err := s.GetSecretVersion(ctx, v.Name, "alpha", a.Version)
	ok(t, err, "get an old version after recovery")
	equal(t, got, a, "old version after recovery")
	_, err = s.GetDeletedSecret(ctx, v.Name, "alpha")
	isErr(t, err, store.ErrNotFound, "get deleted after recovery")

	_, err = s.DeleteSecret(ctx, v.Name, "alpha", deletedAt, purgeAt)
	ok(t, err, "delete again")
	ok(t, s.PurgeSecret(ctx, v.Name, "Alpha"), "purge")
	isErr(t, s.PurgeSecret(ctx, v.Name, "alpha"), store.ErrNotFound, "purge twice")
	_, err = s.GetDeletedSecret(ctx, v.Name, "alpha")
	isErr(t, err, store.ErrNotFound, "get deleted after purge")
	fresh := mustPutSecret(t, s, newSecretVersion(v.Name, "ALPHA", t0))
	equal(t, fresh.Seq, int64(1), "a purged name starts again")
	equal(t, fresh.Name, "ALPHA", "a purged name takes the new spelling")

	// Scheduled purge across vaults.
	w, _ := vaultFixture(t, s, "kv-"+newID()[:8])
	mustPutSecret(t, s, newSecretVersion(w.Name, "soon", t0))
	mustPutSecret(t, s, newSecretVersion(w.Name, "later", t0))
	_, err = s.DeleteSecret(ctx, w.Name, "soon", t0, t0.Add(time.Hour))
	ok(t, err, "delete soon")
	_, err = s.DeleteSecret(ctx, w.Name, "later", t0, t0.Add(2*time.Hour))
	ok(t, err, "delete later")
	n, err := s.PurgeDeletedSecrets(ctx, t0.Add(time.Hour))
	ok(t, err, "purge due secrets")
	if n < 1 {
		t.Fatalf("purged %d secrets, want at least 1", n)
	}
	_, err = s.GetDeletedSecret(ctx, w.Name, "soon")
	isErr(t, err, store.ErrNotFound, "a due secret is purged")
	_, err = s.GetDeletedSecret(ctx, w.Name, "later")
	ok(t, err, "a secret not yet due is kept")
	_, err = s.GetSecretVersion(ctx, v.Name, "beta", "")
	ok(t, err, "a live secret is kept")
}

func testRestoreSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	v, _ := vaultFixture(t, s, "kv-"+newID()[:8])
	x1 := newSecretVersion(v.Name, "Restored", t0)
	x2 := newSecretVersion(v.Name, "Restored", t0.Add(time.Second))
	x2.Enabled = false
	ok(t, s.RestoreSecret(ctx, v.Name, []store.SecretVersion{x1, x2}), "restore")
	latest, err := s.GetSecretVersion(ctx, v.Name, "restored", "")
	ok(t, err, "get restored")
	want := storedSecretVersion(x2)
	want.Seq = 2
	equal(t, latest, want, "restored latest")
	versions, err := s.ListSecretVersions(ctx, v.Name, "restored", 0, 0)
	ok(t, err, "list restored versions")
	equal(t, secretVersions(versions), []string{x1.Version, x2.Version}, "restored versions")
	isErr(t, s.RestoreSecret(ctx, v.Name, []store.SecretVersion{newSecretVersion(v.Name, "RESTORED", t0)}), store.ErrConflict, "restore over a live secret")
	_, err = s.DeleteSecret(ctx, v.Name, "restored", t0, t0.Add(time.Hour))
	ok(t, err, "delete restored")
	isErr(t, s.RestoreSecret(ctx, v.Name, []store.SecretVersion{newSecretVersion(v.Name, "restored", t0)}), store.ErrConflict, "restore over a deleted secret")
	isErr(t, s.RestoreSecret(ctx, "missing-"+newID()[:8], []store.SecretVersion{newSecretVersion(v.Name, "y", t0)}), store.ErrNotFound, "restore into a missing vault")
	y := newSecretVersion(v.Name, "y", t0)
	z := newSecretVersion(v.Name, "z", t0)
	if err := s.RestoreSecret(ctx, v.Name, []store.SecretVersion{y, z}); err == nil {
		t.Fatal("restore of versions of two secrets succeeded")
	}
	_, err = s.GetSecretVersion(ctx, v.Name, "y", "")
	isErr(t, err, store.ErrNotFound, "a failed restore stores nothing")
}

func testVaultCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	v, r := vaultFixture(t, s, "kv-"+newID()[:8])
	mustPutSecret(t, s, newSecretVersion(v.Name, "s", t0))
	deletedSecret := mustPutSecret(t, s, newSecretVersion(v.Name, "gone", t0))
	_, err := s.DeleteSecret(ctx, v.Name, "gone", t0, t0.Add(time.Hour))
	ok(t, err, "delete a secret")
	r.Tags = map[string]string{"team": "a"}
	r.Properties = []byte(`{"softDeleteRetentionInDays":7}`)
	mustPutResource(t, s, r)
	before := time.Now().Add(-time.Second)
	_, err = s.DeleteResource(ctx, r.ID)
	ok(t, err, "delete the vault resource")
	_, err = s.GetVault(ctx, v.Name)
	isErr(t, err, store.ErrNotFound, "vault after its resource is deleted")

	// The vault is kept as deleted, and its name stays taken.
	d, err := s.GetDeletedVault(ctx, strings.ToUpper(v.Name))
	ok(t, err, "get the deleted vault")
	equal(t, d.Name, v.Name, "deleted vault name")
	equal(t, d.ResourceID, r.ID, "deleted vault resource id")
	equal(t, d.SubscriptionID, r.SubscriptionID, "deleted vault subscription")
	equal(t, d.Tags, r.Tags, "deleted vault tags")
	equal(t, string(d.Properties), string(r.Properties), "deleted vault properties")
	if d.DeletedAt.Before(before) || !d.PurgeAt.Equal(d.DeletedAt.Add(7*24*time.Hour)) {
		t.Errorf("deleted at %v, purge at %v: want now and 7 days later", d.DeletedAt, d.PurgeAt)
	}
	list, err := s.ListDeletedVaults(ctx, strings.ToUpper(r.SubscriptionID))
	ok(t, err, "list deleted vaults")
	equal(t, len(list), 1, "deleted vaults in the subscription")
	mustPutResource(t, s, r)
	isErr(t, s.CreateVault(ctx, v), store.ErrConflict, "a vault with a deleted vault's name")

	// Recovered: the vault, its data key and its secrets, the deleted one still deleted.
	_, err = s.RecoverVault(ctx, r)
	isErr(t, err, store.ErrConflict, "recover over an existing resource")
	_, err = s.DeleteResource(ctx, r.ID)
	ok(t, err, "delete the resource that has no vault")
	_, err = s.GetDeletedVault(ctx, v.Name)
	ok(t, err, "the deleted vault is still there")
	got, err := s.RecoverVault(ctx, r)
	ok(t, err, "recover the vault")
	equal(t, string(got.DataKey), string(v.DataKey), "recovered data key")
	_, err = s.GetSecretVersion(ctx, v.Name, "s", "")
	ok(t, err, "a secret of the recovered vault")
	ds, err := s.GetDeletedSecret(ctx, v.Name, "gone")
	ok(t, err, "a deleted secret of the recovered vault")
	equal(t, ds.Version, deletedSecret.Version, "deleted secret version")
	_, err = s.GetDeletedVault(ctx, v.Name)
	isErr(t, err, store.ErrNotFound, "the deleted vault after recovery")
	_, err = s.RecoverVault(ctx, r)
	isErr(t, err, store.ErrNotFound, "recover a vault that is not deleted")

	// Purged: the name is free again, and the new vault has none of the old secrets.
	_, err = s.DeleteResource(ctx, r.ID)
	ok(t, err, "delete the vault resource again")
	ok(t, s.PurgeDeletedVault(ctx, v.Name), "purge the deleted vault")
	isErr(t, s.PurgeDeletedVault(ctx, v.Name), store.ErrNotFound, "purge it twice")
	mustPutResource(t, s, r)
	ok(t, s.CreateVault(ctx, v), "create the vault again")
	_, err = s.GetSecretVersion(ctx, v.Name, "s", "")
	isErr(t, err, store.ErrNotFound, "a secret of the purged vault")

	// Deleting the group keeps its vault too; the scheduled purge removes it.
	w, wr := vaultFixture(t, s, "kv-"+newID()[:8])
	mustPutSecret(t, s, newSecretVersion(w.Name, "s", t0))
	_, err = s.DeleteResourceGroup(ctx, wr.SubscriptionID, wr.ResourceGroup)
	ok(t, err, "delete the vault's group")
	_, err = s.GetVault(ctx, w.Name)
	isErr(t, err, store.ErrNotFound, "vault after its group is deleted")
	dw, err := s.GetDeletedVault(ctx, w.Name)
	ok(t, err, "the group's vault is kept")
	_, err = s.PurgeDeletedVaults(ctx, dw.PurgeAt.Add(-time.Second))
	ok(t, err, "purge before the date")
	_, err = s.GetDeletedVault(ctx, w.Name)
	ok(t, err, "kept until its purge date")
	n, err := s.PurgeDeletedVaults(ctx, dw.PurgeAt)
	ok(t, err, "purge at the date")
	if n < 1 {
		t.Errorf("PurgeDeletedVaults removed %d", n)
	}
	_, err = s.GetDeletedVault(ctx, w.Name)
	isErr(t, err, store.ErrNotFound, "the group's vault after its purge date")
}

func testSecretConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()
	v, _ := vaultFixture(t, s, "kv-"+newID()[:8])
	const n = 16
	errs := parallel(n, func(i int) error {
		_, err := s.PutSecretVersion(ctx, newSecretVersion(v.Name, "Busy", t0.Add(time.Duration(i)*time.Millisecond)))
		return err
	})
	for i, err := range errs {
		ok(t, err, fmt.Sprintf("concurrent put %d", i))
	}
	versions, err := s.ListSecretVersions(ctx, v.Name, "busy", 0, 0)
	ok(t, err, "list versions")
	equal(t, len(versions), n, "versions")
	for i, sv := range versions {
		equal(t, sv.Seq, int64(i+1), "seq of version "+sv.Version)
	}
	latest, err := s.GetSecretVersion(ctx, v.Name, "busy", "")
	ok(t, err, "get latest")
	equal(t, latest.Version, versions[n-1].Version, "latest is the highest seq")
}

func testSharedVaults(t *testing.T, a, b store.Store) {
	ctx := t.Context()
	v, _ := vaultFixture(t, a, "kv-"+newID()[:8])
	_, err := b.GetVault(ctx, v.Name)
	ok(t, err, "vault created through one handle, read through the other")
	put := newSecretVersion(v.Name, "shared", t0)
	_, err = a.PutSecretVersion(ctx, put)
	ok(t, err, "put through a")
	got, err := b.GetSecretVersion(ctx, v.Name, "shared", "")
	ok(t, err, "get through b")
	equal(t, got.Version, put.Version, "version seen through b")
	_, err = b.DeleteSecret(ctx, v.Name, "shared", t0, t0.Add(time.Hour))
	ok(t, err, "delete through b")
	isErr(t, errOf(a.PutSecretVersion(ctx, newSecretVersion(v.Name, "shared", t0))), store.ErrConflict, "a sees b's delete")
}

// errOf returns the error of a (value, error) pair.
func errOf[T any](_ T, err error) error { return err }

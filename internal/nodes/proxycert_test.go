package nodes

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mint-id/mint/internal/authz"
	"github.com/mint-id/mint/internal/directory"
	"github.com/mint-id/mint/internal/rbac"
	"github.com/mint-id/mint/internal/store"
)

func TestOnlyNodesGetProxyCertificates(t *testing.T) {
	w := newWorld(t)
	reg := NewRegistry(w.st, nil)
	ctx := context.Background()
	// A node whose broker role comes only through a nested group is a node too (before, only its
	// own assignments were read, and the revocation feed refused it).
	grouped := w.groupedNode(t)
	for _, c := range []struct {
		name, principal string
		want            bool
	}{
		{"a node (broker role at a group)", w.node.ObjectID, true},
		{"a node holding the role through nested groups", grouped.ObjectID, true},
		{"an Owner of the subscription", w.stranger.ObjectID, false},
		{"a principal without roles", w.ua1.ObjectID, false},
		{"no principal", "", false},
	} {
		got, err := reg.holdsBrokerRole(ctx, c.principal)
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

func TestParseCSR(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "n"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseCSR(base64.StdEncoding.EncodeToString(good)); err != nil {
		t.Fatalf("a good request: %v", err)
	}
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ed, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, edKey)
	for name, in := range map[string]string{
		"empty":          "",
		"not base64":     "%%%",
		"not a request":  base64.StdEncoding.EncodeToString([]byte("hello")),
		"bad signature":  base64.StdEncoding.EncodeToString(tampered),
		"an Ed25519 key": base64.StdEncoding.EncodeToString(ed),
	} {
		if _, err := parseCSR(in); err == nil || !strings.Contains(err.Error(), "csr") {
			t.Errorf("%s: %v, want a refusal naming csr", name, err)
		}
	}
}

func FuzzParseCSR(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	f.Add(base64.StdEncoding.EncodeToString(good))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		csr, err := parseCSR(s)
		if err == nil && csr.PublicKey == nil {
			t.Fatal("accepted a request without a key")
		}
	})
}

// groupedNode is an application holding the broker role over the app resource group only
// through a group nested in another.
func (w world) groupedNode(t *testing.T) store.ServicePrincipal {
	t.Helper()
	ctx := context.Background()
	dir := directory.New(w.st, directory.Options{})
	node, err := dir.CreateApplication(ctx, w.tenant.ID, directory.ApplicationSpec{DisplayName: "grouped node"})
	if err != nil {
		t.Fatal(err)
	}
	outer := store.Group{ObjectID: uuid.NewString(), TenantID: w.tenant.ID, DisplayName: "nodes", SecurityEnabled: true, CreatedAt: time.Now()}
	inner := store.Group{ObjectID: uuid.NewString(), TenantID: w.tenant.ID, DisplayName: "rack 1", SecurityEnabled: true, CreatedAt: time.Now()}
	for _, g := range []store.Group{outer, inner} {
		if err := w.st.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []store.GroupMember{
		{GroupID: outer.ObjectID, MemberID: inner.ObjectID, MemberType: store.MemberGroup, CreatedAt: time.Now()},
		{GroupID: inner.ObjectID, MemberID: node.ObjectID, MemberType: store.MemberServicePrincipal, CreatedAt: time.Now()},
	} {
		if err := w.st.AddGroupMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := authz.EnsureRoleFor(ctx, w.st, outer.ObjectID, "Group", rbac.TokenBrokerRoleID, w.subs+"/resourceGroups/app", "test"); err != nil {
		t.Fatal(err)
	}
	return node
}

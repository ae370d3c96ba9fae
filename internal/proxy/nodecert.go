package proxy

import "time"

// A node agent's proxy terminates TLS for Azure's names, but the installation's CA key stays on
// the server: the agent makes a key of its own and asks the server, signed in as the node, to
// certify it. These are the wire shapes of that request, shared by both sides.

// NodeCertificatePath is the server endpoint a node agent asks for its proxy certificate.
const NodeCertificatePath = "/mint/nodes/proxyCertificate"

// NodeCertificateNames are the names a node's proxy certificate covers: Azure's authority,
// management and Graph hosts, and every <vault>.vault.azure.net. Never the mint server's own
// name: a node stands in for Azure's names on its own host, not for the server.
// Storage's names too: the node's proxy serves them when its agent forwards them to an emulator
// (--forward-storage).
var NodeCertificateNames = append(append(append([]string(nil), DefaultNames...), "*."+AzureVaultSuffix), NodeStorageNames...)

// NodeCertificateLifetime is short, so that a node removed from the installation stops being
// able to serve Azure's names within a day; the agent renews at half-life.
const NodeCertificateLifetime = 24 * time.Hour

// NodeCertificateRequest is the body of POST NodeCertificatePath.
type NodeCertificateRequest struct {
	CSR string `json:"csr"` // base64 DER of a PKCS #10 request; only its key (and signature) count
}

// NodeCertificateResponse answers it.
type NodeCertificateResponse struct {
	Certificate string    `json:"certificate"` // base64 DER, issued by the installation's CA
	CA          string    `json:"ca"`          // base64 DER of the issuing CA's certificate, for workloads' trust
	Names       []string  `json:"names"`
	ExpiresOn   time.Time `json:"expiresOn"`
}

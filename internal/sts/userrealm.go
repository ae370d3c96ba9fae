package sts

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/mint-id/mint/internal/store"
)

// userRealmPrefix follows the tenant segment: MSAL Python calls /common/userrealm/{upn}, MSAL
// Go /common/UserRealm/{upn}; the route is matched case-insensitively.
const userRealmPrefix = "/userrealm/"

// userRealm is the home-realm discovery answer. Every field non-empty (MSAL Go requires four).
// account_type is never "Federated": that would send the clients to WS-Trust.
type userRealm struct {
	Ver               string `json:"ver"`
	AccountType       string `json:"account_type"`
	DomainName        string `json:"domain_name"`
	CloudInstanceName string `json:"cloud_instance_name"`
	CloudAudienceURN  string `json:"cloud_audience_urn"`
}

// serveUserRealm answers whether a sign-in name's domain is one of mint's tenants ("Managed")
// or not ("Unknown"). It says nothing about whether the user exists.
func (s *Server) serveUserRealm(w http.ResponseWriter, r *http.Request, rawUPN string) {
	traceID := newUUID()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, errMethod("GET", r.Method), traceID, correlationFromHeader(r), s.clock())
		return
	}
	upn, err := url.PathUnescape(rawUPN)
	if err != nil || upn == "" || len(upn) > 256 || strings.ContainsAny(upn, "/ ") {
		s.writeError(w, errMalformed("The user principal name in the path is not valid."), traceID, correlationFromHeader(r), s.clock())
		return
	}
	_, domain, _ := strings.Cut(upn, "@")
	doc := userRealm{Ver: "1.0", AccountType: "Unknown", DomainName: strings.ToLower(domain),
		CloudInstanceName: "microsoftonline.com", CloudAudienceURN: "urn:federation:MicrosoftOnline"}
	if doc.DomainName == "" {
		doc.DomainName = "unknown"
	} else if classifySegment(domain) == segmentTenant {
		if _, err := s.dir.Tenant(r.Context(), domain); err == nil {
			doc.AccountType = "Managed"
		} else if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "tenant lookup failed", "err", err)
			s.writeError(w, errServer(err), traceID, correlationFromHeader(r), s.clock())
			return
		}
	}
	s.writeJSON(w, doc, traceID, "no-store")
}

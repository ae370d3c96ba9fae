package arm

import (
	"net/http"
	"slices"
	"strings"
)

// Cloud metadata: GET /metadata/endpoints?api-version=…, the document ARM publishes about its
// cloud (https://management.azure.com/metadata/endpoints?api-version=2022-09-01). Tools read it
// to learn a cloud's authority, audiences and DNS suffixes from its resource manager URL alone:
// `az cloud register --endpoint-resource-manager` (msrestazure, api-version 2015-01-01: one
// object), the Azure CLI's ARM_CLOUD_METADATA_URL and the SDKs' environment loaders (2019-05-01
// and later: a list of clouds). It needs no token, as ARM's does not.

// cloudMetadataVersions are the api-versions served: the 2015 shape (one object, as Azure Stack
// Hub serves it too) and the later list of clouds.
var (
	cloudMetadataObjectVersions = []string{"2015-01-01", "2018-01-01"}
	cloudMetadataListVersions   = []string{"2019-05-01", "2020-06-01", "2022-09-01"}
)

// CloudName is the name mint's cloud has in the list shape.
const CloudName = "mint"

// CloudMetadataConfig is what the document says about this installation.
type CloudMetadataConfig struct {
	BaseURL        string // the authority host, resource manager and Graph endpoint
	KeyVaultSuffix string // the DNS suffix of vaultUri (vault.localhost by default)
}

// CloudMetadata serves GET /metadata/endpoints.
func CloudMetadata(cfg CloudMetadataConfig) http.Handler {
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	auth := map[string]any{
		"loginEndpoint": base + "/",
		// The first audience is the one az asks tokens for (active_directory_resource_id).
		"audiences":        []string{base + "/", "https://management.core.windows.net/", "https://management.azure.com/"},
		"tenant":           "common",
		"identityProvider": "AAD",
	}
	object := map[string]any{
		"galleryEndpoint": "",
		"graphEndpoint":   base + "/",
		"portalEndpoint":  base + "/",
		"authentication":  auth,
	}
	list := []map[string]any{{
		"name":                     CloudName,
		"resourceManager":          base + "/",
		"portal":                   base,
		"authentication":           auth,
		"graph":                    base + "/",
		"graphAudience":            base + "/",
		"microsoftGraphResourceId": base + "/",
		"suffixes": map[string]any{
			"keyVaultDns": cfg.KeyVaultSuffix,
		},
	}}
	all := append(append([]string(nil), cloudMetadataObjectVersions...), cloudMetadataListVersions...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("api-version")
		switch {
		case v == "":
			WriteError(w, r, 0, MissingAPIVersionParameter())
		case slices.Contains(cloudMetadataObjectVersions, v):
			WriteJSON(w, r, http.StatusOK, object)
		case slices.Contains(cloudMetadataListVersions, v):
			WriteJSON(w, r, http.StatusOK, list)
		default:
			WriteError(w, r, 0, InvalidAPIVersionParameter(v, all))
		}
	})
}

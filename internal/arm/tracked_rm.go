package arm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"

	"github.com/mint-id/mint/internal/arm/armid"
	"github.com/mint-id/mint/internal/store"
)

// What the providers of resource groups, user-assigned identities and compute-like resources
// share: locations, tags, api-version comparison, the ids the MSI resource provider echoes, and
// the per-resource write lock.

// provisioningSucceeded is the provisioningState of every resource mint holds: its writes are
// synchronous, so a resource is either fully there or not at all.
const provisioningSucceeded = "Succeeded"

// normalizeLocation gives a location in ARM's normalized spelling: "East US" → "eastus".
func normalizeLocation(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

// validLocation reports whether a normalized location is one mint accepts. mint has no region
// list, so any name made of ASCII letters, digits and hyphens is a region.
func validLocation(loc string) bool {
	if loc == "" || len(loc) > 64 {
		return false
	}
	for i := 0; i < len(loc); i++ {
		c := loc[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// requireLocation checks a tracked resource's location on create; resourceType names the type in
// the error.
func requireLocation(loc *string, resourceType string) (string, *Error) {
	if loc == nil || strings.TrimSpace(*loc) == "" {
		return "", LocationRequired()
	}
	l := normalizeLocation(*loc)
	if !validLocation(l) {
		return "", NewError(http.StatusBadRequest, "LocationNotAvailableForResourceType", fmt.Sprintf(
			"The provided location '%s' is not available for resource type '%s'. A location is a region name made of letters, digits and hyphens, such as 'eastus'.",
			*loc, resourceType))
	}
	return l, nil
}

// LocationRequired is ARM's 400 for a tracked resource sent without a location.
func LocationRequired() *Error {
	return NewError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
}

// invalidResourceLocation is ARM's 400 for a PUT that would move an existing resource.
func invalidResourceLocation(name, existing, requested, resourceGroup string) *Error {
	return NewError(http.StatusBadRequest, "InvalidResourceLocation", fmt.Sprintf(
		"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
		name, existing, resourceGroup, requested))
}

// checkTags validates tags (nil is fine) and returns a non-nil copy.
func checkTags(tags map[string]string) (map[string]string, *Error) {
	if err := armid.ValidateTags(tags); err != nil {
		return nil, AsError(err)
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out, nil
}

// nonNilTags returns tags, or an empty map for none (the MSI resource provider echoes "tags":{}).
func nonNilTags(tags map[string]string) map[string]string {
	if tags == nil {
		return map[string]string{}
	}
	return tags
}

// apiVersionAtLeast compares the date part of two api-versions ("2025-01-31-preview" is at
// least "2024-11-30").
func apiVersionAtLeast(v, min string) bool {
	if len(v) > 10 {
		v = v[:10]
	}
	return v >= min
}

// miID spells a resource id as the MSI resource provider echoes it and as tokens carry it in
// xms_mirid: with a lower-case "resourcegroups" segment.
func miID(id armid.ResourceID) string {
	s := id.String()
	if id.ResourceGroup == "" {
		return s
	}
	prefix := "/subscriptions/" + id.SubscriptionID + "/resourceGroups/"
	if strings.HasPrefix(s, prefix) {
		return "/subscriptions/" + id.SubscriptionID + "/resourcegroups/" + s[len(prefix):]
	}
	return s
}

// canonicalResourceID respells id's namespace and types as resourceType does
// ("microsoft.web/SITES/slots" → "Microsoft.Web/sites/slots"), keeping the names as given.
// resourceType must have as many types as id.
func canonicalResourceID(id armid.ResourceID, resourceType string) armid.ResourceID {
	parts := strings.Split(resourceType, "/")
	if len(parts) < 2 || len(parts)-1 != len(id.Names) {
		return id
	}
	out := armid.ResourceGroupID(id.SubscriptionID, id.ResourceGroup)
	if id.ResourceGroup == "" {
		out = armid.Subscription(id.SubscriptionID)
	}
	out = out.Extension(parts[0], parts[1], id.Names[0])
	for i, t := range parts[2:] {
		out = out.Child(t, id.Names[i+1])
	}
	return out
}

// notServed is the 404 for a path of a known type that names nothing mint serves (a list of a
// type that has no list, a resource where only a list exists).
func notServed(r *http.Request) *Error {
	return NewError(http.StatusNotFound, "NotFound", "No HTTP resource was found that matches the request URI '"+r.URL.Path+"'.")
}

// parentNotFound is ARM's 404 for a nested resource whose parent does not exist.
func parentNotFound(parent armid.ResourceID) *Error {
	return NewError(http.StatusNotFound, "ParentResourceNotFound", fmt.Sprintf(
		"Can not perform requested operation on nested resource. Parent resource '%s' not found.", strings.Join(parent.Names, "/")))
}

// getResource reads a resource, telling "absent" from failure.
func getResource(c *call, id string) (store.Resource, bool, error) {
	r, err := c.s.st.GetResource(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Resource{}, false, nil
	}
	if err != nil {
		return store.Resource{}, false, err
	}
	return r, true, nil
}

// tenantOf returns the tenant of the subscription (where its managed identities live).
func tenantOf(c *call, subscriptionID string) (string, error) {
	sub, err := c.s.st.GetSubscription(c.ctx, subscriptionID)
	if err != nil {
		return "", fmt.Errorf("subscription %s: %w", subscriptionID, err)
	}
	return sub.TenantID, nil
}

// objectProperties checks that raw is a JSON object (or absent/null, giving {}) and returns it
// compacted.
func objectProperties(raw json.RawMessage) (json.RawMessage, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`), nil
	}
	if raw[0] != '{' {
		return nil, InvalidRequestContent("The properties of the resource must be a JSON object. Path 'properties'")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, InvalidRequestContent(err.Error())
	}
	return buf.Bytes(), nil
}

// keyedLocks serializes writes to one resource within this process (a read-modify-write of an
// identity block, the count and uniqueness checks of an identity's federated credentials). It is
// a fixed set of mutexes picked by a hash of the lower-cased id, so it never grows; two ids may
// share a mutex, which only costs a little concurrency. A handler takes at most one.
type keyedLocks struct {
	mu [64]sync.Mutex
}

func (l *keyedLocks) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(id)))
	m := &l.mu[h.Sum32()%uint32(len(l.mu))]
	m.Lock()
	return m.Unlock
}
